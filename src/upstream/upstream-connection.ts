import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { ErrorCode, RosgateError } from '../errors.js';
import {
  Decoder,
  Sentence,
  encodeSentence,
  challengeFromHex,
  computeResponse,
  type DecoderLimits,
} from '../protocol/index.js';

/** What an upstream command reports back. */
export interface ReplyHandler {
  /**
   * A reply sentence for this command, still carrying the upstream tag.
   * `isFinal` is true for the `!done` that ends it (ROUTEROS-API §4).
   */
  onReply(sentence: Sentence, isFinal: boolean): void;
  /** The connection failed before the command's `!done`; nothing more follows. */
  onError(error: RosgateError): void;
}

/** Connection settings for one router session. */
export interface UpstreamOptions {
  host: string;
  port: number;
  username: string;
  password: string;
  /** Connect and login deadline, and the health-probe deadline. @default 10000 */
  timeoutMs: number;
  /** Limits for what the router sends. */
  decoderLimits?: Partial<DecoderLimits>;
  /**
   * Connect with TLS (api-ssl, ROUTEROS-API §8) using these options; the
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
}

const LOGIN_FAILED = 'upstream login failed';
const QUIT = encodeSentence(['/quit']);

/**
 * One logged-in session to the router (ROUTEROS-API §3, §4).
 *
 * Every command sent gets a fresh tag from this connection's counter, so
 * tags are unique per connection for its whole life. Replies are routed by
 * that tag; a tag stays registered until its `!done`, even when whoever
 * sent it has gone, so late replies are recognised and dropped by the
 * handler rather than mistaken for another command's.
 *
 * Events: `close` (error?: RosgateError) once, when the session ends.
 */
export class UpstreamConnection extends EventEmitter {
  readonly options: UpstreamOptions;
  #socket: net.Socket | undefined;
  #decoder: Decoder;
  #pending = new Map<string, Pending>();
  #nextTag = 1;
  #state: UpstreamState = 'connecting';
  #closeError: RosgateError | undefined;
  /** Last time anything was sent or received (ms since epoch): idleness. */
  lastActiveAt = Date.now();
  /** Last time the router sent anything (ms since epoch): liveness. */
  lastReceivedAt = Date.now();
  /** True while a health probe waits for its answer. */
  isProbing = false;

  constructor(options: UpstreamOptions) {
    super();
    this.options = options;
    this.#decoder = new Decoder(options.decoderLimits);
  }

  get state(): UpstreamState {
    return this.#state;
  }

  /** Commands sent and not yet finished with `!done`. */
  get inFlight(): number {
    return this.#pending.size;
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
    socket.setKeepAlive(true, 30_000);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) =>
      this.#fail(
        new RosgateError(ErrorCode.UpstreamClosed, `router connection error: ${err.message}`, {
          cause: err,
        }),
      ),
    );
    socket.on('close', () =>
      this.#fail(new RosgateError(ErrorCode.UpstreamClosed, 'router closed the connection')),
    );

    const deadline = setTimeout(() => {
      this.#fail(
        new RosgateError(ErrorCode.UpstreamTimeout, 'router did not answer the login in time', {
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
    const { username, password } = this.options;
    const first = await this.#call(['/login', `=name=${username}`, `=password=${password}`]);
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
        `=name=${username}`,
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
  #call(words: string[]): Promise<{ done: Sentence; trap: string | undefined; rows: Sentence[] }> {
    return new Promise((resolve, reject) => {
      const rows: Sentence[] = [];
      let trap: string | undefined;
      this.#send(Sentence.from(words), words[0] as string, {
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
    return this.#send(sentence, sentence.command, handler);
  }

  #send(sentence: Sentence, command: string, handler: ReplyHandler): string {
    const tag = (this.#nextTag++).toString(36);
    this.#pending.set(tag, { handler, command });
    this.lastActiveAt = Date.now();
    (this.#socket as net.Socket).write(sentence.withTag(tag));
    return tag;
  }

  /**
   * Ask the router to cancel the command on `tag` (ROUTEROS-API §5). The
   * command's own trap and `!done` still arrive through its handler.
   * `onAnswered` runs synchronously when the router answers the `/cancel`
   * (or at once when there is nothing to cancel), so a caller can keep the
   * router's reply order.
   */
  cancel(tag: string, onAnswered: () => void = () => undefined): void {
    if (this.#state !== 'ready' || !this.#pending.has(tag)) {
      onAnswered();
      return;
    }
    this.#send(Sentence.from(['/cancel', `=tag=${tag}`]), '/cancel', {
      onReply: (_s, isFinal) => {
        if (isFinal) onAnswered();
      },
      onError: () => onAnswered(),
    });
  }

  /** A cheap round trip proving the session works; rejects on timeout. */
  async probe(): Promise<void> {
    this.isProbing = true;
    const timer = setTimeout(() => {
      this.#fail(
        new RosgateError(
          ErrorCode.UpstreamTimeout,
          'router did not answer the health probe in time',
        ),
      );
    }, this.options.timeoutMs);
    try {
      const answer = await this.#call(['/system/identity/print']);
      if (answer.trap !== undefined)
        throw new RosgateError(ErrorCode.UpstreamProtocol, `health probe refused: ${answer.trap}`);
    } finally {
      clearTimeout(timer);
      this.isProbing = false;
    }
  }

  /**
   * Log out and close: a ready session sends `/quit` (the router answers
   * `!fatal` and closes, logging a clean logout, ROUTEROS-API §5) instead of
   * just dropping the socket. In-flight commands get `error`.
   */
  close(error?: RosgateError): void {
    if (this.#state === 'ready') {
      const socket = this.#socket as net.Socket;
      socket.end(QUIT);
      // A router that never closes is cut off after the usual deadline.
      setTimeout(() => socket.destroy(), this.options.timeoutMs).unref();
    }
    this.#fail(
      error ?? new RosgateError(ErrorCode.UpstreamClosed, 'router session closed by rosgate'),
      false,
    );
  }

  #onData(chunk: Buffer): void {
    this.lastActiveAt = this.lastReceivedAt = Date.now();
    try {
      this.#decoder.push(chunk, (sentence) => this.#onSentence(sentence));
    } catch (err) {
      this.#fail(
        new RosgateError(ErrorCode.UpstreamProtocol, 'router sent bytes that break the protocol', {
          cause: err,
        }),
      );
    }
  }

  #onSentence(sentence: Sentence): void {
    const reply = sentence.command;
    if (reply === '!fatal') {
      const reason = sentence.wordCount > 1 ? sentence.wordString(1) : 'fatal';
      this.#fail(new RosgateError(ErrorCode.UpstreamClosed, `router ended the session: ${reason}`));
      return;
    }
    const tag = sentence.tagString;
    const pending = tag === undefined ? undefined : this.#pending.get(tag);
    // A reply without a known tag cannot be routed; dropping it is the only
    // safe choice (go-routeros does the same).
    if (pending === undefined) return;
    const isFinal = reply === '!done';
    if (isFinal) this.#pending.delete(tag as string);
    pending.handler.onReply(sentence, isFinal);
  }

  #fail(error: RosgateError, isAbrupt = true): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#closeError = error;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    if (isAbrupt) this.#socket?.destroy();
    for (const p of pending) p.handler.onError(error);
    this.emit('close', error);
  }
}
