import type { CommandContext } from '../pipeline.js';

/**
 * What the cache does with a command: keep its reply, invalidate its menu
 * on it, invalidate every menu on it (`script`), or let it pass.
 */
export type CommandKind = 'read' | 'write' | 'script' | 'bypass';

/**
 * Classifies one client command for the cache, from the session's
 * classification: a print that ends by itself is kept; a script may change
 * any menu; a write or any other action (an unknown verb too) invalidates
 * its menu rather than leave a stale reply behind; other reads and streams
 * pass.
 */
export function commandKind(context: CommandContext): CommandKind {
  const { command } = context;
  if (command.kind === 'script') return 'script';
  if (command.isCacheable) return 'read';
  return command.mayChange ? 'write' : 'bypass';
}
