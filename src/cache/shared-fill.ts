import type { RosgateError } from '../errors.js';
import {
  SinkDecorator,
  toRosgateError,
  type CommandContext,
  type CommandHandler,
  type CommandSink,
  type Exchange,
} from '../pipeline.js';
import { Sentence, TrapCategory, doneWords, trapWords } from '../protocol/index.js';
import { sentenceOverheadBytes, type CachedReply } from './cached-reply.js';

/** What a waiter that cancels gets from the cache itself (docs/routeros-api.md §5). */
const INTERRUPTED = Sentence.from(trapWords(undefined, 'interrupted', TrapCategory.Interrupted));
const DONE = Sentence.from(doneWords(undefined));

/** Where a shared print's own decorator passes on to: nowhere, the waiters get it. */
const FAN_OUT: CommandSink = { reply() {}, done() {}, refuse() {} };

/** How a shared print reports to the cache that started it. */
export interface FillHooks {
  /**
   * The reply ended in `!done` with no trap, whole and not invalidated: the
   * cache may keep it, unless it shows a row of `changedIds` (see `taint`).
   */
  keep(replies: readonly Sentence[], done: Sentence, changedIds: readonly string[]): void;
  /** The router refused before sending a row: a kept reply to serve instead, or undefined. */
  stale(error: RosgateError): CachedReply | undefined;
  /** A waiter is about to get the stale reply. */
  servedStale(context: CommandContext): void;
  /** The print is over: nothing more comes from the router. */
  ended(): void;
}

interface Waiter {
  readonly context: CommandContext;
  readonly sink: CommandSink;
  isAnswered: boolean;
}

/**
 * One print on the router shared by every client that asked for the same
 * reply while it ran (coalescing). Each waiter gets every row as it
 * arrives; one that joins late gets the rows so far first. A waiter that
 * cancels is answered here with `interrupted`; the router command is
 * cancelled only when no waiter is left.
 *
 * Rows are kept for late joiners and for the cache until they pass
 * `maxBytes`; past that the print is neither joinable nor kept.
 */
export class SharedFill {
  readonly key: string;
  readonly path: string;
  /** The print's `?name=` filter, lower-cased, on a row-scoped menu (see row-change.ts). */
  readonly nameQuery: string | undefined;
  /** When the print was sent (ms, the stage's clock). */
  readonly startedAt: number;
  readonly #hooks: FillHooks;
  readonly #maxBytes: number;
  readonly #waiters = new Set<Waiter>();
  #replies: Sentence[] = [];
  #bytes = 0;
  #rowsSent = 0;
  /** False once a trap, a cancel, an invalidation or the byte bound rules the reply out. */
  #isClean = true;
  /** Rows changed while the print ran: a reply that shows one is not kept. */
  readonly #changedIds = new Set<string>();
  #isEnded = false;
  #exchange: Exchange | undefined;
  #isCancelWanted = false;

  constructor(
    key: string,
    path: string,
    nameQuery: string | undefined,
    startedAt: number,
    maxBytes: number,
    hooks: FillHooks,
  ) {
    this.key = key;
    this.path = path;
    this.nameQuery = nameQuery;
    this.startedAt = startedAt;
    this.#maxBytes = maxBytes;
    // Counted as the store counts a kept reply (reply-store.ts): its key too.
    this.#bytes = key.length;
    this.#hooks = hooks;
  }

  /** True while a new identical print may share this one. */
  get isJoinable(): boolean {
    return this.#isClean && this.#changedIds.size === 0 && !this.#isEnded;
  }

  /**
   * A write to this menu finished while the print ran: what it read may be
   * older than the write, so it is neither kept nor shared any more.
   */
  invalidate(): void {
    this.#ruleOut();
  }

  /**
   * Rows `ids` of this menu changed while the print ran, in a way that can
   * reach its reply only if the reply shows them: it is shared no more, and
   * kept only if it turns out not to show them.
   */
  taint(ids: readonly string[]): void {
    for (const id of ids) this.#changedIds.add(id);
  }

  /** Sends the print to the router on behalf of its first waiter. */
  start(next: CommandHandler, context: CommandContext, sink: CommandSink): Exchange {
    const exchange = this.join(context, sink);
    // The router's answer fans out to the waiters: the decorator sees it,
    // and passes nothing on itself.
    const upstream = new SinkDecorator(FAN_OUT, {
      onReply: (sentence) => this.#onReply(sentence),
      onEnd: (outcome) => {
        if (outcome.type === 'done') this.#onDone(outcome.sentence);
        else this.#onRefuse(outcome.error);
      },
    });
    try {
      this.#exchange = next.handle(context, upstream);
    } catch (err) {
      upstream.refuse(toRosgateError(err));
      return exchange;
    }
    if (this.#isCancelWanted && !this.#isEnded) this.#cancelOnRouter();
    return exchange;
  }

  /** Adds a waiter; it gets the rows so far at once. */
  join(context: CommandContext, sink: CommandSink): Exchange {
    const waiter: Waiter = { context, sink, isAnswered: false };
    this.#waiters.add(waiter);
    for (const sentence of this.#replies) this.#deliver(waiter, (s) => s.reply(sentence));
    return { cancel: (onAnswered) => this.#cancel(waiter, onAnswered) };
  }

  #onReply(sentence: Sentence): void {
    this.#rowsSent++;
    const reply = sentence.command;
    if (reply !== '!re' && reply !== '!empty') this.#ruleOut();
    else if (this.#isClean) {
      this.#bytes += sentence.byteLength + sentenceOverheadBytes(sentence);
      if (this.#bytes > this.#maxBytes) this.#ruleOut();
      else this.#replies.push(sentence);
    }
    for (const waiter of [...this.#waiters]) this.#deliver(waiter, (s) => s.reply(sentence));
  }

  #onDone(sentence: Sentence): void {
    this.#isEnded = true;
    if (this.#isClean) this.#hooks.keep(this.#replies, sentence, [...this.#changedIds]);
    this.#finish((sink) => sink.done(sentence));
  }

  #onRefuse(error: RosgateError): void {
    this.#isEnded = true;
    const stale = this.#rowsSent === 0 ? this.#hooks.stale(error) : undefined;
    if (stale === undefined) {
      this.#finish((sink) => sink.refuse(error));
      return;
    }
    this.#finish((sink, context) => {
      this.#hooks.servedStale(context);
      stale.replay(sink);
    });
  }

  /** Ends the command for every waiter left. */
  #finish(answer: (sink: CommandSink, context: CommandContext) => void): void {
    this.#replies = [];
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const waiter of waiters) {
      waiter.isAnswered = true;
      try {
        answer(waiter.sink, waiter.context);
      } catch {
        // The sink failed while ending its own command: that client's
        // session is broken, and nothing more can be sent to it. The other
        // waiters still get their answer.
      }
    }
    this.#hooks.ended();
  }

  /**
   * Calls one waiter's sink; a throw there ends that waiter alone with a
   * refusal, so one broken client never takes the others down.
   */
  #deliver(waiter: Waiter, send: (sink: CommandSink) => void): void {
    try {
      send(waiter.sink);
    } catch (err) {
      this.#leave(waiter);
      try {
        waiter.sink.refuse(toRosgateError(err));
      } catch {
        // The same broken sink: nothing more can reach that client.
      }
    }
  }

  #cancel(waiter: Waiter, onAnswered: () => void): void {
    if (!waiter.isAnswered) {
      this.#leave(waiter);
      this.#deliver(waiter, (sink) => {
        sink.reply(INTERRUPTED);
        sink.done(DONE);
      });
    }
    onAnswered();
  }

  /** A waiter is answered without the router; the last one to go cancels the print. */
  #leave(waiter: Waiter): void {
    if (waiter.isAnswered) return;
    waiter.isAnswered = true;
    this.#waiters.delete(waiter);
    if (this.#waiters.size > 0 || this.#isEnded) return;
    this.#ruleOut();
    if (this.#exchange === undefined) this.#isCancelWanted = true;
    else this.#cancelOnRouter();
  }

  /** The reply can no longer be kept or shared: its rows need not be held either. */
  #ruleOut(): void {
    this.#isClean = false;
    this.#replies = [];
  }

  #cancelOnRouter(): void {
    (this.#exchange as Exchange).cancel(() => undefined);
  }
}
