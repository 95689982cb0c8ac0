import type { Sentence } from '../protocol/index.js';

/** How the metrics group commands: the `verb_class` label. */
export const VERB_CLASSES = ['read', 'write', 'stream', 'other'] as const;
export type VerbClass = (typeof VERB_CLASSES)[number];

const READ_VERBS = new Set(['print', 'getall', 'get']);
const WRITE_VERBS = new Set([
  'add',
  'set',
  'remove',
  'enable',
  'disable',
  'unset',
  'move',
  'edit',
  'comment',
  'reset',
  'reset-counters',
  'reset-counters-all',
]);
/** Commands that run until cancelled, or may (ROUTEROS-API §5). */
const STREAM_VERBS = new Set([
  'listen',
  'monitor',
  'monitor-traffic',
  'torch',
  'ping',
  'sniff',
  'bandwidth-test',
  'traceroute',
]);
/** Print arguments that turn a print into a stream (ROUTEROS-API §5). */
const STREAM_ARGUMENTS = ['follow', 'follow-only', 'interval'] as const;

/** True when a print keeps streaming changes instead of ending with its rows. */
export function isStreamingPrint(sentence: Sentence): boolean {
  return STREAM_ARGUMENTS.some((name) => sentence.hasAttribute(name));
}

/** The class of a command, from its verb and (for prints) its arguments. */
export function verbClassOf(verb: string, sentence: Sentence): VerbClass {
  if (STREAM_VERBS.has(verb)) return 'stream';
  if (READ_VERBS.has(verb)) return isStreamingPrint(sentence) ? 'stream' : 'read';
  if (WRITE_VERBS.has(verb)) return 'write';
  return 'other';
}
