import {
  doneWords,
  encodeSentences,
  tagWords,
  trapWords,
  type Tag,
  type TrapCategory,
  type WordInput,
} from '../protocol/index.js';
import type { Row } from './database.js';
import type { SimulatorTimers, TagPosition } from './options.js';

/** Where a command's replies go: the session's socket. */
export interface ReplySink {
  /** Write bytes; false when the socket buffer is full (wait for `drained`). */
  send(data: Buffer): boolean;
  /** Resolves when the socket can take more, or has closed. */
  drained(): Promise<void>;
}

const INTERRUPTED = 'interrupted';
const EQ = Buffer.from('=', 'latin1');

const TAG_PREFIX = '.tag=';

function isTagWord(word: WordInput): boolean {
  return typeof word === 'string'
    ? word.startsWith(TAG_PREFIX)
    : word.toString('latin1', 0, TAG_PREFIX.length) === TAG_PREFIX;
}

/** The sentence with its `.tag` word moved after every other word. */
function withTagLast(words: readonly WordInput[]): readonly WordInput[] {
  const index = words.findIndex(isTagWord);
  if (index < 0) return words;
  return [...words.slice(0, index), ...words.slice(index + 1), words[index] as WordInput];
}

/** Encode reply sentences (built with the tag first) with the tag where `position` says. */
export function encodeReplies(
  sentences: readonly (readonly WordInput[])[],
  position: TagPosition,
): Buffer {
  return encodeSentences(position === 'first' ? sentences : sentences.map(withTagLast));
}

/** `!re` words for a row, tag first; values are copied byte for byte. */
export function rowWords(tag: Tag, row: Row): WordInput[] {
  const words: WordInput[] = ['!re', ...tagWords(tag)];
  for (const [name, value] of row)
    words.push(Buffer.concat([EQ, Buffer.from(name, 'latin1'), EQ, value]));
  return words;
}

/**
 * One command on one connection, from arrival to its final `!done`.
 * After the end nothing more is written for it (§4: nothing follows `!done`).
 */
export class Command {
  readonly tag: Buffer | undefined;
  /** The tag as latin1, to match `/cancel =tag=`. */
  readonly tagKey: string | undefined;
  readonly path: string;
  /** Resolves when the command has ended, however it ended. */
  readonly ended: Promise<void>;
  readonly #sink: ReplySink;
  readonly #timers: SimulatorTimers;
  readonly #tagPosition: TagPosition;
  readonly #cleanups = new Set<() => void>();
  #isFinished = false;
  #resolveEnded!: () => void;

  constructor(
    sink: ReplySink,
    timers: SimulatorTimers,
    path: string,
    tag: Buffer | undefined,
    tagPosition: TagPosition = 'first',
  ) {
    this.#sink = sink;
    this.#timers = timers;
    this.#tagPosition = tagPosition;
    this.path = path;
    this.tag = tag;
    this.tagKey = tag?.toString('latin1');
    this.ended = new Promise((resolve) => {
      this.#resolveEnded = resolve;
    });
  }

  get isFinished(): boolean {
    return this.#isFinished;
  }

  /** Run `fn` when the command ends (stop timers, unsubscribe). */
  onEnd(fn: () => void): void {
    if (this.#isFinished) fn();
    else this.#cleanups.add(fn);
  }

  /** Wait `ms`; resolves early when the command ends. */
  sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.#isFinished) return Promise.resolve();
    return new Promise((resolve) => {
      const cleanup = () => {
        this.#timers.clearTimeout(handle);
        resolve();
      };
      // A stream sleeps once per tick: a tick that ran leaves nothing behind.
      const handle = this.#timers.setTimeout(() => {
        this.#cleanups.delete(cleanup);
        resolve();
      }, ms);
      this.#cleanups.add(cleanup);
    });
  }

  /** Wait until the socket takes more data. */
  drained(): Promise<void> {
    return this.#sink.drained();
  }

  /** Write sentences that are not the end; false means wait for `drained`. */
  send(sentences: readonly (readonly WordInput[])[]): boolean {
    if (this.#isFinished || sentences.length === 0) return true;
    return this.#sink.send(encodeReplies(sentences, this.#tagPosition));
  }

  /** End with `!done` (and its attributes), after `before`, all in one write (docs/routeros-api.md §9). */
  finish(
    before: readonly (readonly WordInput[])[] = [],
    attributes?: Record<string, WordInput>,
  ): void {
    if (this.#isFinished) return;
    this.#end();
    this.#sink.send(encodeReplies([...before, doneWords(this.tag, attributes)], this.#tagPosition));
  }

  /** End with `!trap` then `!done` in one write. */
  fail(message: string, category?: TrapCategory): void {
    this.finish([trapWords(this.tag, message, category)]);
  }

  /** End because of `/cancel`; returns the interrupted trap, the caller writes it and our `!done` (§5). */
  interrupt(): WordInput[][] {
    this.#end();
    return [trapWords(this.tag, INTERRUPTED, 2)];
  }

  /** The `!done` words of this command (for `/cancel` to write). */
  doneWords(): WordInput[] {
    return doneWords(this.tag);
  }

  /** End without writing anything (the connection is gone). */
  abandon(): void {
    if (!this.#isFinished) this.#end();
  }

  #end(): void {
    this.#isFinished = true;
    const cleanups = [...this.#cleanups];
    this.#cleanups.clear();
    for (const fn of cleanups) fn();
    this.#resolveEnded();
  }
}
