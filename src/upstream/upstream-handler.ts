import type { RosgateError } from '../errors.js';
import type { Sentence } from '../protocol/index.js';
import {
  answerInterrupted,
  toRosgateError,
  type CommandContext,
  type CommandHandler,
  type CommandSink,
  type Exchange,
} from '../pipeline.js';
import type { Pool } from './pool.js';
import type { ReplyHandler, UpstreamConnection } from './upstream-connection.js';

/**
 * The innermost handler of the pipeline: acquires a router session, sends
 * the command with a tag of that session's own, routes its replies to the
 * sink, and releases the session's capacity at the command's end.
 */
export function createUpstreamHandler(pool: Pool): CommandHandler {
  return {
    handle(context: CommandContext, sink: CommandSink): Exchange {
      return new UpstreamExchange(pool, context, sink);
    },
  };
}

type State = 'acquiring' | 'sent' | 'done';

/** A command sent to a session: the exchange its sender holds and the handler of its replies (one object, no closures per command: issue 19). */
class UpstreamExchange implements Exchange, ReplyHandler {
  readonly #pool: Pool;
  readonly #sink: CommandSink;
  #state: State = 'acquiring';
  #connection: UpstreamConnection | undefined;
  #tag: string | undefined;
  readonly #withdraw: () => void;

  constructor(pool: Pool, context: CommandContext, sink: CommandSink) {
    this.#pool = pool;
    this.#sink = sink;
    this.#withdraw = pool.acquire(
      (connection) => this.#send(connection, context),
      (error) => this.#end(error),
    );
  }

  #send(connection: UpstreamConnection, context: CommandContext): void {
    try {
      this.#tag = connection.send(context.sentence, this);
    } catch (err) {
      // The pool hands out ready sessions only; a throw here is a bug, and
      // it costs this command alone.
      this.#end(toRosgateError(err));
      return;
    }
    this.#connection = connection;
    this.#state = 'sent';
    context.notes.upstreamTag = this.#tag;
  }

  onReply(sentence: Sentence, isFinal: boolean): void {
    if (!isFinal) {
      this.#sink.reply(sentence);
      return;
    }
    this.#state = 'done';
    this.#pool.commandEnded();
    this.#sink.done(sentence);
  }

  onError(error: RosgateError): void {
    if (this.#state === 'done') return;
    this.#state = 'done';
    this.#pool.commandEnded();
    this.#sink.refuse(error);
  }

  #end(error: RosgateError): void {
    this.#state = 'done';
    this.#sink.refuse(error);
  }

  cancel(onAnswered: () => void): void {
    if (this.#state === 'acquiring') {
      this.#withdraw();
      this.#state = 'done';
      answerInterrupted(this.#sink);
      onAnswered();
      return;
    }
    if (this.#state === 'sent') {
      (this.#connection as UpstreamConnection).cancel(this.#tag as string, onAnswered);
      return;
    }
    onAnswered();
  }
}
