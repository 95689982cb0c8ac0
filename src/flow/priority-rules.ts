import { attributeKeys, hasAnyAttribute } from '../command/classify.js';
import { compileGlob, type GlobMatcher } from '../command/glob.js';
import type { CommandContext } from '../pipeline.js';

/** How urgent a command is within its client's turn. */
export type Priority = 'high' | 'normal' | 'low';

/** Priorities from the most urgent; a priority's level is its index. */
export const PRIORITIES: readonly Priority[] = Object.freeze(['high', 'normal', 'low']);

/** A configured rule; see the `flow.priority.rules` config key. */
export interface PriorityRule {
  /** Only this user's commands; any user when absent. */
  readonly user?: string | undefined;
  /** Menu path glob (src/command/glob.ts): `*` is one path segment, `**` any number of them. */
  readonly path: string;
  /** Only this verb (`print`, `add`, ...); any verb when absent. */
  readonly verb?: string | undefined;
  readonly priority: Priority;
}

/** Menus with rows in the thousands on a busy hotspot or PPP router. */
const LARGE_MENUS: ReadonlySet<string> = new Set([
  '/ip/hotspot/user',
  '/ppp/secret',
  '/ip/hotspot/active',
  '/ppp/active',
  '/ip/arp',
  '/ip/dhcp-server/lease',
  '/queue/simple',
  '/interface',
]);

/** Attributes that pick rows out of a menu. */
const NARROWING_ATTRIBUTES = attributeKeys(['.id', 'from']);

interface CompiledRule {
  readonly user: string | undefined;
  readonly path: GlobMatcher;
  readonly verb: string | undefined;
  readonly priority: Priority;
}

/**
 * Gives each command a priority: the first configured rule that matches its
 * user, path and verb, else the built-in one: streams and full-table prints
 * of large menus are `low`, other reads (`get`, a bounded `monitor`)
 * `normal`, and everything else (add, set, remove, enable, disable, unset,
 * move, actions, scripts) `high`, so that a billing system's writes are not
 * stuck behind dumps.
 */
export class PriorityRules {
  readonly #rules: readonly CompiledRule[];

  constructor(rules: readonly PriorityRule[] = []) {
    this.#rules = rules.map((rule) => ({
      user: rule.user,
      path: compileGlob(rule.path),
      verb: rule.verb,
      priority: rule.priority,
    }));
  }

  classify(context: CommandContext): Priority {
    for (const rule of this.#rules) {
      if (rule.user !== undefined && rule.user !== context.user) continue;
      if (rule.verb !== undefined && rule.verb !== context.command.verb) continue;
      if (rule.path(context.command.menu)) return rule.priority;
    }
    return builtInPriority(context);
  }
}

function builtInPriority(context: CommandContext): Priority {
  const { command } = context;
  if (command.isStream) return 'low';
  if (command.kind !== 'read') return 'high';
  return command.isCacheable && isFullTablePrint(context) ? 'low' : 'normal';
}

/** A print of a large menu with no query and no `.id`/`from` narrowing it. */
function isFullTablePrint(context: CommandContext): boolean {
  if (!LARGE_MENUS.has(context.command.menu)) return false;
  const { sentence } = context;
  return !hasAnyAttribute(sentence, NARROWING_ATTRIBUTES) && sentence.queries().length === 0;
}
