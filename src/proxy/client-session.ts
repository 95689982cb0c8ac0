import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { RosgateError } from '../errors.js';
import {
  Decoder,
  TrapCategory,
  challengeToHex,
  createChallenge,
  encodeDone,
  encodeFatal,
  encodeTrapDone,
  verifyResponse,
  type DecoderLimits,
  type Sentence,
} from '../protocol/index.js';
import type { ReplyHandler, UpstreamConnection } from '../upstream/upstream-connection.js';
import type { Authenticator } from './authenticator.js';
import type { ProxyStats } from './stats.js';

/** Where a session sends commands: the router's pool. */
export interface SessionUpstream {
  /**
   * Calls `onReady` (synchronously when possible) with a session to send on
   * at once; returns a function that withdraws a request still waiting.
   */
  acquire(
    onReady: (connection: UpstreamConnection) => void,
    onError: (error: RosgateError) => void,
  ): () => void;
  /** A command finished; capacity may be handed to a waiter. */
  release(): void;
}

/** Per-client limits and behaviour. */
export interface ClientSessionOptions {
  connId: number;
  router: string;
  upstream: SessionUpstream;
  authenticator: Authenticator;
  logger: Logger;
  stats: ProxyStats;
  decoderLimits: Partial<DecoderLimits>;
  /** Commands one client may have open at once. @default 32 */
  maxInFlightPerClient: number;
  /** Bytes queued to a slow client before it is dropped. @default 8 MiB */
  maxOutputBufferBytes: number;
  /** Sentences accepted before login. @default 4 */
  preLoginMaxSentences: number;
  /** Time allowed to log in. @default 10000 */
  preLoginTimeoutMs: number;
  /** `strip` drops RouterOS 7.18 `!empty` sentences. @default 'strip' */
  emptyReplies: 'strip' | 'passthrough';
  /** Answer to node-routeros's `#` keepalive. @default 'done' */
  keepaliveReply: 'done' | 'trap';
}

type CommandState = 'queued' | 'acquiring' | 'sent' | 'done';

/** One client command on its way through the proxy. */
interface ClientCommand {
  readonly sentence: Sentence;
  /** The client's tag; undefined for an untagged command. */
  readonly tag: Buffer | undefined;
  state: CommandState;
  upstream: UpstreamConnection | undefined;
  upstreamTag: string | undefined;
  /** Withdraws the request for a router session while it waits. */
  withdraw: () => void;
}

const INVALID_LOGIN = 'invalid user name or password (6)';
const INTERRUPTED = 'interrupted';
/** How long a closing connection may take to flush its `!fatal`. */
const FATAL_LINGER_MS = 1000;

/**
 * One client connection: login, then commands multiplexed onto shared router
 * sessions with the client's tags mapped to upstream ones (ROUTEROS-API §4).
 *
 * The session never blocks a shared upstream socket: replies are written to
 * the client as they arrive, and a client whose unread output passes
 * `maxOutputBufferBytes` is dropped and its commands cancelled (DESIGN
 * invariant 4). Every refusal is a `!trap` + `!done` on the command's tag;
 * only framing errors and `/quit` end the connection (invariant 6).
 */
export class ClientSession {
  readonly #socket: Duplex;
  readonly #options: ClientSessionOptions;
  readonly #log: Logger;
  readonly #decoder: Decoder;
  #user: string | undefined;
  #challenge: Buffer | undefined;
  #preLoginSentences = 0;
  #preLoginTimer: NodeJS.Timeout | undefined;
  /** Sentences that arrived while a login was being checked. */
  #inbox: Sentence[] = [];
  #isBusy = false;
  #isClosed = false;
  #open = new Set<ClientCommand>();
  #untaggedQueue: ClientCommand[] = [];
  #untaggedActive: ClientCommand | undefined;
  // Declared before #closed, whose initializer assigns it.
  #resolveClosed!: () => void;
  readonly #closed = new Promise<void>((resolve) => {
    this.#resolveClosed = resolve;
  });
  #onIdle: (() => void)[] = [];
  #isCorked = false;
  readonly #uncork = (): void => {
    this.#isCorked = false;
    this.#socket.uncork();
  };

  constructor(socket: Duplex, options: ClientSessionOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#log = options.logger.child({ connId: options.connId });
    this.#decoder = new Decoder(options.decoderLimits);
    this.#preLoginTimer = setTimeout(() => this.#fatal('login timeout'), options.preLoginTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#log.debug({ err: err.message }, 'client socket error'));
    socket.on('close', () => this.#onClose());
  }

  /** Resolves when the connection has ended. */
  closed(): Promise<void> {
    return this.#closed;
  }

  /** Resolves when no command is open (for a graceful drain). */
  idle(): Promise<void> {
    if (this.#open.size === 0 || this.#isClosed) return Promise.resolve();
    return new Promise((resolve) => this.#onIdle.push(resolve));
  }

  /** Shutdown: cancel what still runs, say goodbye, close. */
  shutdown(reason = 'rosgate is shutting down'): void {
    this.#fatal(reason);
  }

  #onData(chunk: Buffer): void {
    try {
      this.#decoder.push(chunk, (sentence) => this.#receive(sentence));
    } catch (err) {
      // One policy per boundary: a framing error ends this client only.
      this.#log.warn({ code: (err as RosgateError).code }, 'client framing error');
      this.#options.stats.framingErrors++;
      this.#fatal('protocol error');
    }
  }

  #receive(sentence: Sentence): void {
    if (this.#isClosed) return;
    if (this.#user === undefined) {
      this.#preLoginSentences++;
      if (this.#preLoginSentences > this.#options.preLoginMaxSentences) {
        this.#fatal('too many commands before login');
        return;
      }
    }
    if (!this.#isBusy) this.#handle(sentence);
    // Held while a login is checked; the in-flight limit bounds this too.
    else if (this.#inbox.length < this.#options.maxInFlightPerClient) this.#inbox.push(sentence);
    else this.#refuseOverLimit(sentence.tag);
  }

  #refuseOverLimit(tag: Buffer | undefined): void {
    this.#options.stats.refusedInFlight++;
    this.#write(
      encodeTrapDone(
        tag,
        `too many commands in flight (limit ${this.#options.maxInFlightPerClient})`,
      ),
    );
  }

  #handle(sentence: Sentence): void {
    const command = sentence.command;
    if (command === '/login') {
      this.#login(sentence);
      return;
    }
    if (command === '/quit') {
      this.#fatal('session terminated on request');
      return;
    }
    if (this.#user === undefined) {
      this.#write(encodeTrapDone(sentence.tag, 'not logged in'));
      return;
    }
    if (command === '/cancel') {
      this.#cancel(sentence);
      return;
    }
    if (command === '#') {
      // node-routeros's keepalive: answered here so it never waits behind a
      // busy router (ROUTEROS-API §9).
      this.#write(
        this.#options.keepaliveReply === 'done'
          ? encodeDone(sentence.tag)
          : encodeTrapDone(sentence.tag, 'no such command prefix'),
      );
      return;
    }
    this.#submit(sentence);
  }

  // -- login (ROUTEROS-API §3) ---------------------------------------------

  #login(sentence: Sentence): void {
    const name = sentence.attribute('name');
    const password = sentence.attribute('password');
    const response = sentence.attribute('response');
    const tag = sentence.tag;
    if (name === undefined && password === undefined && response === undefined) {
      // The legacy flow's first step: exactly one sentence with a fresh challenge (§3.3).
      this.#challenge = createChallenge();
      this.#write(encodeDone(tag, { ret: challengeToHex(this.#challenge) }));
      return;
    }
    const user = (name ?? Buffer.alloc(0)).toString('latin1');
    this.#isBusy = true;
    this.#checkLogin(user, password, response).then(
      (isOk) => this.#loginAnswered(tag, user, isOk, undefined),
      (err: RosgateError) => this.#loginAnswered(tag, user, false, err),
    );
  }

  async #checkLogin(
    user: string,
    password: Buffer | undefined,
    response: Buffer | undefined,
  ): Promise<boolean> {
    // A valid challenge response wins; otherwise the password decides (§3.3).
    const secret = this.#options.authenticator.secretFor(user);
    if (response !== undefined && this.#challenge !== undefined && secret !== undefined) {
      const isValid = verifyResponse(secret, this.#challenge, response);
      this.#challenge = undefined;
      if (isValid) return true;
    }
    if (password === undefined) return false;
    return this.#options.authenticator.verifyPassword(user, password);
  }

  #loginAnswered(
    tag: Buffer | undefined,
    user: string,
    isOk: boolean,
    error: RosgateError | undefined,
  ): void {
    this.#isBusy = false;
    if (this.#isClosed) return;
    const stats = this.#options.stats;
    if (isOk) {
      stats.loginsOk++;
      this.#user = user;
      clearTimeout(this.#preLoginTimer);
      this.#log.info({ user }, 'client logged in');
      this.#write(encodeDone(tag));
    } else {
      stats.loginsFailed++;
      this.#log.warn({ user, reason: error?.message ?? 'bad credentials' }, 'client login refused');
      this.#write(encodeTrapDone(tag, error === undefined ? INVALID_LOGIN : error.message));
    }
    const waiting = this.#inbox;
    this.#inbox = [];
    for (let i = 0; i < waiting.length; i++) {
      if (this.#isBusy) {
        this.#inbox.push(...waiting.slice(i));
        return;
      }
      this.#handle(waiting[i] as Sentence);
    }
  }

  // -- commands --------------------------------------------------------------

  #submit(sentence: Sentence): void {
    const tag = sentence.tag;
    if (this.#open.size >= this.#options.maxInFlightPerClient) {
      this.#refuseOverLimit(tag);
      return;
    }
    const command: ClientCommand = {
      sentence,
      tag,
      state: 'queued',
      upstream: undefined,
      upstreamTag: undefined,
      withdraw: () => undefined,
    };
    this.#open.add(command);
    if (tag === undefined) {
      // Untagged replies cannot be told apart, so a client's untagged
      // commands run one at a time, in order (ROUTEROS-API §4 rule 4).
      if (this.#untaggedActive !== undefined) {
        this.#untaggedQueue.push(command);
        return;
      }
      this.#untaggedActive = command;
    }
    this.#dispatch(command);
  }

  #dispatch(command: ClientCommand): void {
    command.state = 'acquiring';
    command.withdraw = this.#options.upstream.acquire(
      (connection) => {
        // A command cancelled while waiting withdrew its request, so this one
        // is still wanted; the pool hands out ready sessions only, so send()
        // cannot refuse it.
        command.upstreamTag = connection.send(command.sentence, this.#handlerFor(command));
        command.upstream = connection;
        command.state = 'sent';
        this.#options.stats.commandsForwarded++;
      },
      (err) => this.#refuse(command, err),
    );
  }

  #handlerFor(command: ClientCommand): ReplyHandler {
    return {
      onReply: (reply, isFinal) => {
        if (
          !this.#isClosed &&
          !(reply.command === '!empty' && this.#options.emptyReplies === 'strip')
        ) {
          this.#write(reply.withTag(command.tag));
        }
        if (isFinal) this.#finish(command);
      },
      onError: (err) => this.#refuse(command, err),
    };
  }

  /** End a command with `!trap` + `!done` on its tag (DESIGN invariant 6). */
  #refuse(command: ClientCommand, err: RosgateError): void {
    this.#log.warn({ cmd: command.sentence.command, code: err.code }, 'command refused');
    this.#write(encodeTrapDone(command.tag, err.message));
    this.#finish(command);
  }

  #finish(command: ClientCommand): void {
    const wasUpstream = command.state === 'sent';
    command.withdraw(); // a no-op unless it still waits for a session
    command.state = 'done';
    this.#open.delete(command);
    if (wasUpstream) this.#options.upstream.release();
    if (this.#open.size === 0) for (const resolve of this.#onIdle.splice(0)) resolve();
    if (command === this.#untaggedActive) {
      this.#untaggedActive = this.#untaggedQueue.shift();
      if (this.#untaggedActive !== undefined && !this.#isClosed)
        this.#dispatch(this.#untaggedActive);
    }
  }

  // -- cancel (ROUTEROS-API §5) ---------------------------------------------

  #cancel(sentence: Sentence): void {
    const target = sentence.attribute('tag');
    const targets =
      target === undefined
        ? [...this.#open]
        : [...this.#open].filter((c) => c.tag?.equals(target) === true);
    // Queued untagged commands are answered first, so finishing the running
    // one does not start the next only to cancel it.
    targets.sort((a, b) => Number(b.state === 'queued') - Number(a.state === 'queued'));
    const tag = sentence.tag;
    // The cancel's own `!done` is written the moment the router has answered
    // the last upstream cancel, keeping the router's order: trap(X),
    // done(cancel), done(X) (ROUTEROS-API §5).
    let waiting = targets.length + 1;
    const answered = (): void => {
      if (--waiting === 0) this.#write(encodeDone(tag));
    };
    for (const command of targets) this.#cancelCommand(command, answered);
    answered();
  }

  /** Cancel one command; `onAnswered` runs once the router has acknowledged it. */
  #cancelCommand(command: ClientCommand, onAnswered: () => void): void {
    if (command.state === 'sent') {
      (command.upstream as UpstreamConnection).cancel(command.upstreamTag as string, onAnswered);
      return;
    }
    // Not yet on the router: answer as the router would (category 2).
    if (command.state === 'queued') {
      this.#untaggedQueue.splice(this.#untaggedQueue.indexOf(command), 1);
    }
    this.#write(encodeTrapDone(command.tag, INTERRUPTED, TrapCategory.Interrupted));
    this.#finish(command);
    onAnswered();
  }

  // -- output and teardown ---------------------------------------------------

  #write(bytes: Buffer): void {
    if (this.#isClosed) return;
    // Replies decoded from one upstream chunk leave in one write: cork on
    // the first and uncork on the next tick (ROUTEROS-API §9: everything
    // available in one write).
    if (!this.#isCorked) {
      this.#isCorked = true;
      this.#socket.cork();
      process.nextTick(this.#uncork);
    }
    this.#socket.write(bytes);
    if (this.#socket.writableLength > this.#options.maxOutputBufferBytes) {
      this.#options.stats.slowClientDrops++;
      this.#log.warn(
        { bufferedBytes: this.#socket.writableLength },
        'client too slow to read; dropped',
      );
      this.#socket.destroy();
      this.#onClose();
    }
  }

  /** `!fatal` with a reason, then close (protocol violations, `/quit`, shutdown). */
  #fatal(reason: string): void {
    if (this.#isClosed) return;
    this.#socket.end(encodeFatal(reason));
    // A peer that never closes its side must not hold a shutdown open.
    setTimeout(() => this.#socket.destroy(), FATAL_LINGER_MS).unref();
    this.#onClose();
  }

  #onClose(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearTimeout(this.#preLoginTimer);
    // Commands still on the router are cancelled there (no orphaned
    // streams); their remaining replies are discarded as they arrive.
    for (const command of [...this.#open]) {
      if (command.state === 'sent') {
        (command.upstream as UpstreamConnection).cancel(command.upstreamTag as string);
      } else {
        this.#finish(command);
      }
    }
    this.#untaggedQueue = [];
    for (const resolve of this.#onIdle.splice(0)) resolve();
    this.#resolveClosed();
  }
}
