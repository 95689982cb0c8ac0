import type { AuditLevelRule } from '../config/audit.js';
import type { AuditLevel } from './audit-record.js';

/** Verbs that only read: recorded at `metadata` unless a rule says otherwise. */
const READ_VERBS = new Set(['print', 'getall', 'get', 'listen', 'monitor', 'monitor-traffic']);

/**
 * A path glob as a RegExp: `*` is one path segment (no `/`), `**` any
 * depth, and a trailing `/**` also matches the path itself, so `/ip/**`
 * covers `/ip` and everything below it.
 */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob.charAt(i);
    if (glob.startsWith('/**', i) && i + 3 === glob.length) {
      source += '(?:/.*)?';
      break;
    }
    if (glob.startsWith('**', i)) {
      source += '.*';
      i++;
    } else if (char === '*') {
      source += '[^/]*';
    } else {
      source += char.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}

/**
 * Which level a command is recorded at: the first `audit.levels` rule whose
 * path glob (and verb, when the rule names one) matches; otherwise
 * `metadata` for reads and `request` for everything else.
 */
export class LevelPolicy {
  readonly #rules: readonly {
    readonly path: RegExp;
    readonly verb?: string | undefined;
    level: AuditLevel;
  }[];

  constructor(rules: readonly AuditLevelRule[]) {
    this.#rules = rules.map((rule) => ({ ...rule, path: globToRegExp(rule.path) }));
  }

  levelFor(path: string, verb: string): AuditLevel {
    for (const rule of this.#rules) {
      if ((rule.verb === undefined || rule.verb === verb) && rule.path.test(path))
        return rule.level;
    }
    return READ_VERBS.has(verb) ? 'metadata' : 'request';
  }
}
