import type { CommandContext } from './pipeline.js';
import type { Sentence } from './protocol/index.js';

/** Verbs that run until cancelled, or report on a timer (ROUTEROS-API §5). */
const STREAM_VERBS: ReadonlySet<string> = new Set(['listen', 'monitor-traffic', 'ping', 'torch']);

/** Attributes that turn a print (or a monitor) into a stream (§5). */
const STREAM_ATTRIBUTES = attributeKeys(['follow', 'follow-only', 'interval']);

const EQ = 0x3d; // '='

/** `=name` prefixes, made once: the flow stage looks at every command. */
export function attributeKeys(names: readonly string[]): readonly Buffer[] {
  return names.map((name) => Buffer.from(`=${name}`, 'latin1'));
}

/**
 * True when `sentence` carries one of the attributes (`=name=value`, or a
 * bare `=name`) whose prefixes `keys` holds. Compares bytes in place.
 */
export function hasAnyAttribute(sentence: Sentence, keys: readonly Buffer[]): boolean {
  for (let i = 1; i < sentence.wordCount; i++) {
    for (const key of keys) {
      if (!sentence.wordStartsWith(i, key)) continue;
      if (sentence.wordLength(i) === key.length || sentence.word(i)[key.length] === EQ) return true;
    }
  }
  return false;
}

/**
 * True for a command that streams replies instead of ending soon with
 * `!done`: `listen`, `monitor-traffic`, `ping`, `torch`, and any command
 * carrying `=follow=`, `=follow-only=` or `=interval=`. Streams are exempt
 * from the idle timeout and hold a concurrency slot only when configured to.
 */
export function isStreamCommand(context: CommandContext): boolean {
  return STREAM_VERBS.has(context.verb) || hasAnyAttribute(context.sentence, STREAM_ATTRIBUTES);
}
