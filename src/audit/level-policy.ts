import { compileGlob, type GlobMatcher } from '../command/glob.js';
import type { AuditLevelRule } from '../config/audit.js';
import type { CommandInfo } from '../pipeline.js';
import type { AuditLevel } from './audit-record.js';

/**
 * Which level a command is recorded at: the first `audit.levels` rule whose
 * menu glob (and verb, when the rule names one) matches; otherwise
 * `metadata` for commands that change nothing (reads and streams) and
 * `request` for everything else.
 */
export class LevelPolicy {
  readonly #rules: readonly {
    readonly path: GlobMatcher;
    readonly verb?: string | undefined;
    level: AuditLevel;
  }[];

  constructor(rules: readonly AuditLevelRule[]) {
    this.#rules = rules.map((rule) => ({ ...rule, path: compileGlob(rule.path) }));
  }

  levelFor(command: Pick<CommandInfo, 'menu' | 'verb' | 'kind'>): AuditLevel {
    for (const rule of this.#rules) {
      if ((rule.verb === undefined || rule.verb === command.verb) && rule.path(command.menu))
        return rule.level;
    }
    return command.kind === 'read' || command.kind === 'stream' ? 'metadata' : 'request';
  }
}
