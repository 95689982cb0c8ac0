import type { CommandContext } from '../pipeline.js';

/** Verbs that run until cancelled, or report on a timer (ROUTEROS-API §5). */
const STREAM_VERBS: ReadonlySet<string> = new Set(['listen', 'monitor-traffic', 'ping', 'torch']);

/** Attributes that turn a print (or a monitor) into a stream (§5). */
const STREAM_ATTRIBUTES = ['follow', 'follow-only', 'interval'] as const;

/**
 * True for a command that streams replies instead of ending soon with
 * `!done`: `listen`, `monitor-traffic`, `ping`, `torch`, and any command
 * carrying `=follow=`, `=follow-only=` or `=interval=`. Streams are exempt
 * from the idle timeout and hold a concurrency slot only when configured to.
 */
export function isStreamCommand(context: CommandContext): boolean {
  if (STREAM_VERBS.has(context.verb)) return true;
  return STREAM_ATTRIBUTES.some((name) => context.sentence.hasAttribute(name));
}
