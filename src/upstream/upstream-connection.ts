import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { ErrorCode, RosgateError } from '../errors.js';
import {
  Decoder,
  Sentence,
  WriteBatch,
  encodeSentence,
  challengeFromHex,
  computeResponse,
  type DecoderLimits,
  type WordInput,
} from '../protocol/index.js';
import { monotonicNow } from '../clock.js';

const NAME_PREFIX = Buffer.from('=name=', 'latin1');
const PASSWORD_PREFIX = Buffer.from('=password=', 'latin1');

/**
 * A router that takes the connection and closes it before answering the
 * login: its `/ip service` entry does not allow rosgate's address, or no
 * API session is free under its `max-sessions`.
 */
/** A login never answered: a router's api-ssl port reached without TLS looks like this too. */
const LOGIN_TIMED_OUT =
  'router did not answer the login in time (a TLS port reached without upstreamTls, or an address the api service does not allow, looks like this)';

const CLOSED_AT_LOGIN =
  'router closed the connection before answering the login: is the api service allowed from this address (/ip service address=), with a session free under max-sessions?';

/** A configured string as UTF-8; a Buffer as it is. */
function textBytes(value: string | Buffer): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

/** What an upstream command reports back. */
export interface ReplyHandler {
  /**
   * A reply sentence for this command, still carrying the upstream tag.
   * `isFinal` is true for the `!done` that ends it (docs/routeros-api.md §4).
   */
  onReply(sentence: Sentence, isFinal: boolean): void;
  /** The connection failed before the command's `!done`; nothing more follows. */
  onError(error: RosgateError): void;
}

/** Connection settings for one router session. */
export interface UpstreamOptions {
  host: string;
  port: number;
  /** A string is text, sent as UTF-8; a Buffer goes byte for byte (a client's own bytes). */
  username: string | Buffer;
  /** A string is text, sent as UTF-8, as clients send it; a Buffer goes byte for byte. */
  password: string | Buffer;
  /**
   * Connect and login deadline. A busy session the router has sent nothing
   * on for half of it is probed, and fails when the probe is not answered
   * within the other half: a silent router fails its commands within this
   * time. @default 10000
   */
  timeoutMs: number;
  /**
   * Bytes queued towards the router past which the session counts as
   * congested: the pool hands it no new command until it drains (docs/architecture.md code rule 4b).
   * A function is read each time, so a live change reaches open sessions.
   * @default 1048576
   */
  maxWriteBufferBytes?: number | (() => number);
  /** Clock. @default monotonicNow (src/clock.ts: steps of the wall clock do not move it) */
  now?: () => number;
  /** Limits for what the router sends. */
  decoderLimits?: Partial<DecoderLimits>;
  /**
   * Connect with TLS (api-ssl, docs/routeros-api.md §8) using these options; the
   * session starts once the handshake is done. @default plain TCP
   */
  tls?: tls.ConnectionOptions;
  /**
   * Opens the socket; tests may inject a faulty one. A `tls.TLSSocket` is
   * awaited until its handshake is done. @default net.connect, or tls.connect with `tls`
   */
  connect?: (host: string, port: number) => net.Socket;
}

export type UpstreamState = 'connecting' | 'ready' | 'closed';

interface Pending {
  handler: ReplyHandler;
  /** The command word, for logs only. */
  command: string;
  /** rosgate's own round trips (login, probe, cancel) do not make a session busy. */
  isInternal: boolean;
  /** Callers waiting for the answer to a `/cancel` already sent for this command. */
  cancelWaiters?: (() => void)[];
  /** Dropped here before its `!done` (its handler threw): the router may still run it. */
  isDropped?: boolean;
}

const DEFAULT_MAX_WRITE_BUFFER_BYTES = 1024 * 1024;

const LOGIN_FAILED = "router refused rosgate's login";
const QUIT = encodeSentence(['/quit']);

/**
 * One logged-in session to the router (docs/routeros-api.md §3, §4).
 *
 * Every command sent gets a fresh tag from this connection's counter, so
 * tags are unique per connection for its whole life. Replies are routed by
 * that tag; a tag stays registered until its `!done`, even when whoever
 * sent it has gone, so late replies are recognised and dropped by the
 * handler rather than mistaken for another command's.
 *
 * A failing session reports `close` before it tells any command, so the
 * pool has already dropped it when a command's handler asks for the next
 * session. Every call into a handler is guarded: a throw costs
 * that one command, never the session or the process.
 *
 * Events: `close` (error: RosgateError) once, when the session ends;
 * `drain` when a congested session can take commands again.
 */
export class UpstreamConnection extends EventEmitter {
  readonly options: UpstreamOptions;
  #socket: net.Socket | undefined;
  #decoder: Decoder;
  /** By tag, as its number (`Sentence.tagId`): a reply is routed without a string. */
  #pending = new Map<number, Pending>();
  #nextTag = 1;
  #state: UpstreamState = 'connecting';
  #closeError: RosgateError | undefined;
  readonly #now: () => number;
  /** Client commands in flight (rosgate's own round trips excluded). */
  #busy = 0;
  #watchdog: NodeJS.Timeout | undefined;
  /** Last time anything was sent or received (ms since epoch): idleness. */
  lastActiveAt: number;
  /** Last time the router sent a whole sentence (ms since epoch): liveness. */
  lastReceivedAt: number;
  /** True while a health probe waits for a sign of life: its answer or any other sentence. */
  isProbing = false;
  /** The deadline of the probe waiting for a sign of life. */
  #probeDeadline: NodeJS.Timeout | undefined;
  /**
   * What goes to the router on the next tick: the commands one callback
   * sends (a client's batch of adds in one write, the queued commands one
   * reply's `!done` lets go) leave in one write (issue 19), one segment for
   * the router to read instead of one per command.
   */
  readonly #out = new WriteBatch();
  readonly #drained = (): boolean => this.emit('drain');
  readonly #flush = (): void => {
    // Emptied already when the session ended: what it held was never sent.
    if (this.#out.isEmpty) return;
    const wasCongested = this.isCongested;
    (this.#socket as net.Socket).write(this.#out.take());
    // Congested by this tick's own commands, which the socket took at once:
    // the socket has no drain to tell, so the session tells it, as a socket
    // does, after the call that wrote.
    if (wasCongested && !this.isCongested) process.nextTick(this.#drained);
  };

  constructor(options: UpstreamOptions) {
    super();
    this.options = options;
    this.#now = options.now ?? monotonicNow;
    this.lastActiveAt = this.lastReceivedAt = this.#now();
    this.#decoder = new Decoder(options.decoderLimits);
  }

  get state(): UpstreamState {
    return this.#state;
  }

  /** Client commands sent and not yet finished with `!done`. */
  get inFlight(): number {
    return this.#busy;
  }

  /**
   * True while more than `maxWriteBufferBytes` wait to be written to the
   * router: it is not reading, so it gets no new command (docs/architecture.md code rule 4b).
   */
  get isCongested(): boolean {
    const socket = this.#socket;
    return (
      socket !== undefined &&
      socket.writableLength + this.#out.byteLength > this.#maxWriteBufferBytes(socket)
    );
  }

  /**
   * The bound, and no less than the socket's own high-water mark: below it
   * a write the socket takes brings no 'drain' (16 KiB on Node 20, 64 KiB
   * from Node 22), and a session it congested would stay unusable.
   */
  #maxWriteBufferBytes(socket: net.Socket): number {
    const bound = this.options.maxWriteBufferBytes ?? DEFAULT_MAX_WRITE_BUFFER_BYTES;
    return Math.max(typeof bound === 'number' ? bound : bound(), socket.writableHighWaterMark);
  }

  /** Open the socket and log in; rejects with a RosgateError. */
  async connect(): Promise<void> {
    const { host, port, timeoutMs, tls: tlsOptions } = this.options;
    const open =
      this.options.connect ??
      ((h: string, p: number) =>
        tlsOptions === undefined
          ? net.connect({ host: h, port: p })
          : tls.connect({ ...tlsOptions, host: h, port: p }));
    const socket = open(host, port);
    // A TLS session can carry the API only after its handshake.
    const readyEvent = socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect';
    this.#socket = socket;
    socket.setNoDelay(true);
    // A router that vanished without a FIN is found by TCP itself too.
    socket.setKeepAlive(true, 30_000);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.emit('drain'));
    socket.on('error', (err) =>
      this.#fail(
        new RosgateError(ErrorCode.UpstreamClosed, `router connection error: ${err.message}`, {
          cause: err,
        }),
      ),
    );
    socket.on('close', () =>
      this.#fail(
        new RosgateError(
          ErrorCode.UpstreamClosed,
          // Before the login is answered it is the router's service saying no.
          this.#state === 'connecting' ? CLOSED_AT_LOGIN : 'router closed the connection',
        ),
      ),
    );

    const deadline = setTimeout(() => {
      this.#fail(
        new RosgateError(ErrorCode.UpstreamTimeout, LOGIN_TIMED_OUT, {
          details: { timeoutMs },
        }),
      );
    }, timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        const onClose = (err?: RosgateError): void => reject(err);
        this.once('close', onClose);
        socket.once(readyEvent, () => {
          this.removeListener('close', onClose);
          resolve();
        });
      });
      await this.#login();
    } finally {
      clearTimeout(deadline);
    }
    this.#state = 'ready';
  }

  async #login(): Promise<void> {
    // Text from the configuration is UTF-8 on the wire, as clients send
    // their passwords: the router and rosgate see the same bytes (§7).
    const username = textBytes(this.options.username);
    const password = textBytes(this.options.password);
    const name = Buffer.concat([NAME_PREFIX, username]);
    const first = await this.#call(['/login', name, Buffer.concat([PASSWORD_PREFIX, password])]);
    const challengeHex = first.done.attributeString('ret');
    if (first.trap === undefined && challengeHex === undefined) return;
    if (first.trap === undefined && challengeHex !== undefined) {
      // A router before 6.43 ignores name and password and answers with a
      // challenge: finish with the MD5 response (§3.2).
      const challenge = challengeFromHex(challengeHex);
      if (challenge === undefined)
        throw this.#loginError('router sent a malformed login challenge');
      const second = await this.#call([
        '/login',
        name,
        `=response=${computeResponse(password, challenge)}`,
      ]);
      if (second.trap === undefined) return;
      throw this.#loginError(second.trap);
    }
    throw this.#loginError(first.trap as string);
  }

  #loginError(message: string): RosgateError {
    const err = new RosgateError(ErrorCode.UpstreamLogin, `${LOGIN_FAILED}: ${message}`, {
      details: { routerMessage: message },
    });
    this.#fail(err);
    return err;
  }

  /** Send a command and collect its answer (login and health probes). */
  #call(
    words: [command: string, ...rest: WordInput[]],
  ): Promise<{ done: Sentence; trap: string | undefined; rows: Sentence[] }> {
    return new Promise((resolve, reject) => {
      const rows: Sentence[] = [];
      let trap: string | undefined;
      this.#send(Sentence.from(words), words[0], true, {
        onReply(sentence, isFinal) {
          if (isFinal) resolve({ done: sentence, trap, rows });
          else if (sentence.command === '!trap')
            trap ??= sentence.attributeString('message') ?? 'unknown error';
          else rows.push(sentence);
        },
        onError: reject,
      });
    });
  }

  /**
   * Send `sentence` (a client's command; its own tag is replaced) and route
   * its replies to `handler`. Returns the upstream tag.
   */
  send(sentence: Sentence, handler: ReplyHandler): string {
    if (this.#state !== 'ready') {
      throw (
        this.#closeError ??
        new RosgateError(ErrorCode.UpstreamClosed, 'router connection is not ready')
      );
    }
    return this.#send(sentence, sentence.command, false, handler);
  }

  #send(sentence: Sentence, command: string, isInternal: boolean, handler: ReplyHandler): string {
    const id = this.#nextTag++;
    const tag = id.toString(36);
    this.#pending.set(id, { handler, command, isInternal });
    if (!isInternal && this.#busy++ === 0) {
      // Liveness is measured from the moment the session has work.
      this.lastReceivedAt = this.#now();
      this.#watch();
    }
    this.lastActiveAt = this.#now();
    const isFirst = this.#out.isEmpty;
    // One tag upstream, ours: a client's own tag words never reach the router (§4 rule 1).
    this.#out.pushSoleTagged(sentence, tag);
    // rosgate's own (a cancel, a probe, the login) are few and leave at once,
    // behind what this tick gathered: a cancel is on the wire before the
    // client hears of the refusal that sent it.
    if (isInternal) this.#flush();
    else if (isFirst) process.nextTick(this.#flush);
    return tag;
  }

  /**
   * Ask the router to cancel the command on `tag` (docs/routeros-api.md §5). The
   * command's own trap and `!done` still arrive through its handler.
   * `onAnswered` runs synchronously when the router answers the `/cancel`
   * (or at once when there is nothing to cancel), so a caller can keep the
   * router's reply order.
   *
   * Within `timeoutMs` the router must answer the `/cancel` or end the
   * command. When it does neither, it may still run the command (a stream
   * would run for ever, owned by nobody), and only the end of the session
   * stops it for sure: the session fails, its commands with it.
   */
  cancel(tag: string, onAnswered: () => void = () => undefined): void {
    const id = Number.parseInt(tag, 36);
    const pending = this.#pending.get(id);
    if (this.#state !== 'ready' || pending === undefined) {
      onAnswered();
      return;
    }
    // One router cancel per command, however often it is asked for.
    if (pending.cancelWaiters !== undefined) {
      pending.cancelWaiters.push(onAnswered);
      return;
    }
    const waiters = [onAnswered];
    pending.cancelWaiters = waiters;
    let isConfirmed = false;
    const answered = (): void => {
      for (const waiter of waiters.splice(0)) guarded(waiter);
    };
    const cancelTag = this.#send(Sentence.from(['/cancel', `=tag=${tag}`]), '/cancel', true, {
      onReply: (_s, isFinal) => {
        if (!isFinal) return;
        isConfirmed = true;
        answered();
      },
      onError: answered,
    });
    setTimeout(() => {
      // Still ours, or dropped here while the router may run it. (A session
      // that ended has no pending command, and failing it again does nothing.)
      const isRunning = this.#pending.get(id) === pending || pending.isDropped === true;
      if (!isConfirmed && isRunning) {
        this.#fail(
          new RosgateError(ErrorCode.UpstreamTimeout, 'router did not confirm the cancel in time', {
            details: { command: pending.command },
          }),
        );
        return;
      }
      // Late replies to the cancel are dropped as unknown.
      this.#pending.delete(Number.parseInt(cancelTag, 36));
      answered();
      if (this.#pending.get(id) !== pending) return;
      // The router took the cancel but never ended the command: it does not
      // run it (a command it lost), so it no longer holds a place here.
      this.#settle(id, pending);
      guarded(() =>
        pending.handler.onError(
          new RosgateError(
            ErrorCode.UpstreamTimeout,
            'router did not end the cancelled command in time',
          ),
        ),
      );
    }, this.options.timeoutMs).unref();
  }

  /**
   * A cheap round trip proving the session works. The session fails when
   * the router sends nothing within `timeoutMs`: any sentence it sends
   * meanwhile (a slow command's reply) proves it alive as well as the
   * probe's own answer, which may then come as late as the router likes.
   * Rejects when the session fails or the probe is refused.
   */
  async probe(timeoutMs = this.options.timeoutMs): Promise<void> {
    this.isProbing = true;
    const deadline = setTimeout(() => {
      this.#fail(
        new RosgateError(
          ErrorCode.UpstreamTimeout,
          'router did not answer the health probe in time',
          { details: { timeoutMs } },
        ),
      );
    }, timeoutMs);
    this.#probeDeadline = deadline;
    try {
      const answer = await this.#call(['/system/identity/print']);
      if (answer.trap !== undefined)
        throw new RosgateError(ErrorCode.UpstreamProtocol, `health probe refused: ${answer.trap}`);
    } finally {
      // Unless a sentence proved the session alive before the answer came.
      if (this.#probeDeadline === deadline) this.#lifeSeen();
    }
  }

  /** The router sent a sentence: a probe waiting for a sign of life has it. */
  #lifeSeen(): void {
    clearTimeout(this.#probeDeadline);
    this.#probeDeadline = undefined;
    this.isProbing = false;
  }

  /**
   * Log out and close: a ready session sends `/quit` (the router answers
   * `!fatal` and closes, logging a clean logout, docs/routeros-api.md §5) instead of
   * just dropping the socket. In-flight commands get `error`.
   */
  close(error?: RosgateError): void {
    const isReady = this.#state === 'ready';
    if (isReady) {
      const socket = this.#socket as net.Socket;
      socket.end(QUIT);
      // A router that never closes is cut off after the usual deadline.
      setTimeout(() => socket.destroy(), this.options.timeoutMs).unref();
    }
    // A session still connecting has nobody to say goodbye to.
    this.#fail(
      error ?? new RosgateError(ErrorCode.UpstreamClosed, 'router session closed by rosgate'),
      !isReady,
    );
  }

  /**
   * While the session has work, check that the router still talks: after
   * half the timeout of silence a probe goes out, and its own deadline (the
   * other half) ends a session whose router sends nothing meanwhile. A quiet
   * stream keeps its session as long as the probe is answered; a slow
   * router answering its commands keeps it too, however slow the probe
   * (a command's slowness is the flow stage's idle timeout to judge).
   */
  #watch(): void {
    // Still running from the last busy spell (it stops at its first idle
    // tick): it watches this one too, with no new timer per command (issue 19).
    if (this.#watchdog !== undefined) return;
    const half = Math.max(1, Math.floor(this.options.timeoutMs / 2));
    this.#watchdog = setInterval(
      () => {
        if (this.#busy === 0 || this.#state !== 'ready') {
          clearInterval(this.#watchdog);
          this.#watchdog = undefined;
          return;
        }
        if (!this.isProbing && this.#now() - this.lastReceivedAt >= half) {
          this.probe(half).catch(() => {
            /* a failed probe fails the session; its close event says why */
          });
        }
      },
      Math.max(1, Math.floor(half / 4)),
    );
    this.#watchdog.unref();
  }

  #onData(chunk: Buffer): void {
    this.lastActiveAt = this.#now();
    try {
      this.#decoder.push(chunk, this.#sentenceArrived);
    } catch (err) {
      this.#fail(
        new RosgateError(ErrorCode.UpstreamProtocol, 'router sent bytes that break the protocol', {
          cause: err,
        }),
      );
    }
  }

  /** What the decoder calls for each sentence: made once, not per chunk. */
  readonly #sentenceArrived = (sentence: Sentence): void => this.#onSentence(sentence);

  #onSentence(sentence: Sentence): void {
    // Liveness counts whole sentences: garbage that leaves a partial word
    // pending must not make a silent router look alive.
    this.lastReceivedAt = this.#now();
    if (this.#probeDeadline !== undefined) this.#lifeSeen();
    const reply = sentence.command;
    if (reply === '!fatal') {
      const reason = sentence.wordCount > 1 ? sentence.wordString(1) : 'fatal';
      this.#fail(new RosgateError(ErrorCode.UpstreamClosed, `router ended the session: ${reason}`));
      return;
    }
    const id = sentence.tagId;
    const pending = id === undefined ? undefined : this.#pending.get(id);
    // A reply without a known tag cannot be routed; dropping it is the only
    // safe choice (go-routeros does the same).
    if (pending === undefined) return;
    const isFinal = reply === '!done';
    if (isFinal) this.#settle(id as number, pending);
    try {
      pending.handler.onReply(sentence, isFinal);
    } catch (err) {
      // A throw from whoever handles the reply ends that command only: it
      // is answered with a refusal and cancelled on the router. A handler
      // that ended the session before throwing has been told already.
      if (!isFinal) {
        if (this.#pending.get(id as number) !== pending) return;
        this.cancel(sentence.tagString as string);
        pending.isDropped = true;
        this.#settle(id as number, pending);
      }
      guarded(() => pending.handler.onError(toUpstreamError(err)));
    }
  }

  #settle(id: number, pending: Pending): void {
    this.#pending.delete(id);
    if (!pending.isInternal) this.#busy--;
  }

  #fail(error: RosgateError, isAbrupt = true): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#closeError = error;
    clearInterval(this.#watchdog);
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#busy = 0;
    // Commands not sent yet are failed below: none runs after its refusal.
    this.#out.clear();
    if (isAbrupt) this.#socket?.destroy();
    // The pool hears first, so no command's handler can be handed this
    // session again.
    guarded(() => this.emit('close', error));
    for (const p of pending) guarded(() => p.handler.onError(error));
  }
}

/** Runs `fn`; a throw is swallowed here because the caller is an event of a socket or timer. */
function guarded(fn: () => void): void {
  try {
    fn();
  } catch {
    /* the command it concerned is already answered or gone; the session goes on */
  }
}

function toUpstreamError(err: unknown): RosgateError {
  return err instanceof RosgateError
    ? err
    : new RosgateError(ErrorCode.Internal, 'internal error in rosgate', { cause: err });
}
