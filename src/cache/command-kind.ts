import type { CommandContext } from '../pipeline.js';
import { isStreamCommand } from '../stream-command.js';

/**
 * What the cache does with a command: keep its reply, invalidate its menu
 * on it, invalidate every menu on it (`script`), or let it pass.
 */
export type CommandKind = 'read' | 'write' | 'script' | 'bypass';

/** Verbs whose finished reply may be kept. */
const CACHED_VERBS = new Set(['print', 'getall']);

/**
 * Verbs that change nothing on the router; every other verb on a menu (add,
 * set, remove, unset, enable, disable, move, reset-counters, comment, ...)
 * counts as a write, so an unknown verb invalidates rather than leaves a
 * stale reply behind.
 */
const READ_ONLY_VERBS = new Set([
  'get',
  'listen',
  'export',
  'monitor',
  'monitor-traffic',
  'ping',
  'torch',
  'traceroute',
  'bandwidth-test',
]);

/**
 * Commands that run scripts or load configuration: they may change any
 * menu, so none of the router's kept replies can be trusted after them.
 */
const ANY_MENU_WRITES = new Set([
  '/execute',
  '/import',
  '/system/script/run',
  '/system/backup/load',
  '/system/reset-configuration',
]);

/** Classifies one client command for the cache. */
export function commandKind(context: CommandContext): CommandKind {
  if (ANY_MENU_WRITES.has(context.sentence.command)) return 'script';
  // A print with `=follow=`, `=follow-only=` or `=interval=` is a stream: never kept.
  if (CACHED_VERBS.has(context.verb)) return isStreamCommand(context) ? 'bypass' : 'read';
  return READ_ONLY_VERBS.has(context.verb) ? 'bypass' : 'write';
}
