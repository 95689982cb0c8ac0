import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { ErrorCode, RosgateError } from '../errors.js';
import {
  describeCommand,
  toRosgateError,
  type CommandDescription,
  type CommandContext,
  type CommandHandler,
  type CommandSink,
  type Exchange,
  type LoginEvent,
  type LoginGate,
  type SessionObserver,
} from '../pipeline.js';
import {
  Decoder,
  TrapCategory,
  encodeDone,
  encodeFatal,
  encodeTrapDone,
  WriteBatch,
  type CodePage,
  type DecoderLimits,
  type Sentence,
} from '../protocol/index.js';
import type { Authenticator } from './authenticator.js';
import { ClientLogin, type LoginMethod, type LoginOutcome } from './client-login.js';
import type { ProxyStats } from './stats.js';
import { monotonicNow } from '../clock.js';

/** Per-client limits and behaviour. */
export interface ClientSessionOptions {
  connId: number;
  router: string;
  /** The client's source address (no port). */
  address: string;
  /** The router's command pipeline. */
  handler: CommandHandler;
  authenticator: Authenticator;
  /** Brute-force lockout. @default none */
  loginGate?: LoginGate | undefined;
  /** Logins and logouts, for audit and metrics. @default none */
  observer?: SessionObserver | undefined;
  logger: Logger;
  stats: ProxyStats;
  /** Limits once logged in. */
  decoderLimits: Partial<DecoderLimits>;
  /** Limits before login: a login sentence is small (docs/architecture.md code rule 4a). */
  preLoginDecoderLimits: Partial<DecoderLimits>;
  /** Commands one client may have open at once; waiting `/cancel`s have a bound as large. @default 32 */
  maxInFlightPerClient: number;
  /**
   * Output waiting for a client, past which it is dropped. Answers given at
   * once to the client's own sentences (cache hits) are not counted until
   * the socket has taken them, and nothing more is read from the client
   * meanwhile. @default 8 MiB
   */
  maxOutputBufferBytes: number;
  /** Sentences accepted before login. @default 4 */
  preLoginMaxSentences: number;
  /** Time allowed to log in. @default 10000 */
  preLoginTimeoutMs: number;
  /** A logged-in client silent this long (no sentence, nothing open) is closed; 0 never. @default 0 */
  clientIdleTimeoutMs: number;
  /**
   * A sentence a client has begun must end within this long, or the client
   * is closed: its partial bytes are not held for ever; 0 never. @default 60000
   */
  sentenceTimeoutMs?: number;
  /**
   * A client that takes none of the output waiting for it for this long is
   * dropped; 0 never. @default 60000
   */
  sendTimeoutMs?: number;
  /** `strip` drops RouterOS 7.18 `!empty` sentences. @default 'strip' */
  emptyReplies: 'strip' | 'passthrough';
  /** Answer to node-routeros's `#` keepalive. @default 'done' */
  keepaliveReply: 'done' | 'trap';
  /** The code page the client's name is read in when it is not UTF-8. @default 'windows-1252' */
  clientCodePage?: CodePage | undefined;
  /** Clock. @default monotonicNow (src/clock.ts) */
  now?: () => number;
}

/** One connected client, as the admin port lists it. */
export interface ClientSnapshot {
  /** The connection's id (`connId` in logs). */
  readonly id: number;
  /** The client's source address. */
  readonly source: string;
  /** The logged-in user; absent before login. */
  readonly user?: string;
  readonly method?: LoginMethod;
  /** When it connected, and logged in, in ms since epoch. */
  readonly connectedAtMs: number;
  readonly loggedInAtMs?: number;
  /** Commands since it logged in, and those running now. */
  readonly commands: number;
  readonly running: number;
}

/** What a command's sink calls back into: its session, once per session, not per command. */
interface CommandHost {
  reply(command: ClientCommand, sentence: Sentence): void;
  done(command: ClientCommand, sentence: Sentence): void;
  refuse(command: ClientCommand, error: RosgateError): void;
}

/**
 * One client command on its way through the pipeline, and the sink its
 * answer comes back through (one object per command, no closures: issue 19).
 */
class ClientCommand implements CommandSink {
  /** Queued behind another untagged command, handed to the pipeline, or finished. */
  state: 'queued' | 'running' | 'done' = 'queued';
  exchange: Exchange | undefined = undefined;
  /**
   * Callers waiting for this command's cancel to be acknowledged; `answered`
   * once it was: the router may still be ending the command, and a later
   * cancel of it is answered at once.
   */
  cancelWaiters: (() => void)[] | 'answered' | undefined = undefined;
  /**
   * rosgate's own answers to untagged sentences that came after this
   * untagged command: written once it has ended, so they never overtake it.
   */
  answersAfter: Buffer[] | undefined = undefined;
  /** The sentence, its menu, verb and kind, as stages see them. */
  readonly description: CommandDescription;
  /** The client's tag; undefined for an untagged command. */
  readonly tag: Buffer | undefined;
  readonly #host: CommandHost;

  constructor(description: CommandDescription, tag: Buffer | undefined, host: CommandHost) {
    this.description = description;
    this.tag = tag;
    this.#host = host;
  }

  get sentence(): Sentence {
    return this.description.sentence;
  }

  reply(sentence: Sentence): void {
    this.#host.reply(this, sentence);
  }

  done(sentence: Sentence): void {
    this.#host.done(this, sentence);
  }

  refuse(error: RosgateError): void {
    this.#host.refuse(this, error);
  }
}

/** How long a closing connection may take to flush its `!fatal`. */
const FATAL_LINGER_MS = 1000;

/**
 * A burst longer than this goes to the socket a slice at a time, the next
 * once the socket took the last: a socket tells what its peer read only
 * write by write, and a slow link reading a multi-megabyte burst must be
 * seen reading it (the sentence clock behind the burst).
 */
export const BURST_SLICE_BYTES = 256 * 1024;

/**
 * One client connection: login, then commands handed to the router's
 * pipeline with the client's tags restored on the way back (docs/routeros-api.md §4).
 *
 * The session keeps only what is per client: login, the tag map, the
 * untagged order, the scope of `/cancel`, the in-flight count and the output
 * bound (docs/architecture.md "The pipeline"). Replies are written as they arrive;
 * a client whose unread output passes `maxOutputBufferBytes` is dropped and
 * its commands cancelled (invariant 4). Every refusal is a `!trap` + `!done`
 * with a coded RosgateError on the command's tag; only framing errors,
 * `/quit` and shutdown end the connection (invariant 6).
 */
export class ClientSession {
  readonly #socket: Duplex;
  readonly #options: ClientSessionOptions;
  readonly #log: Logger;
  readonly #decoder: Decoder;
  readonly #login: ClientLogin;
  readonly #now: () => number;
  #user: string | undefined;
  #method: LoginMethod = 'plain';
  /** When the client connected, as a wall-clock time for people. */
  readonly #connectedAtMs = Date.now();
  #loggedInAt = 0;
  #commandCount = 0;
  #preLoginSentences = 0;
  #preLoginTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  /** Runs while output waits in the socket: the client must take some of it in time. */
  #sendTimer: NodeJS.Timeout | undefined;
  /** Runs while the decoder holds part of a sentence; restarted as sentences end. */
  #sentenceTimer: NodeJS.Timeout | undefined;
  /** Sentences read so far: a partial sentence after one that ended is a new one. */
  #sentencesRead = 0;
  #isClosed = false;
  #open = new Set<ClientCommand>();
  /** `/cancel` sentences waiting for the router's answer. */
  #pendingCancels = 0;
  #untaggedQueue: ClientCommand[] = [];
  #untaggedActive: ClientCommand | undefined;
  /** Bytes of `answersAfter` held for the client: output, bounded as output is. */
  #heldAnswerBytes = 0;
  /** True while a client sentence is handled: what is written meanwhile answers it at once. */
  #isAnswering = false;
  /** Bytes of this turn's batch that answer the client's sentences: not counted by the bound. */
  #answerBytes = 0;
  /** No sentence is decoded: a login step is being checked, or a burst waits for 'drain'. */
  #isReadingPaused = false;
  /** Reading waits for the socket to take a burst of answers to the client's own sentences. */
  #isWaitingForDrain = false;
  /** The next flush carries that burst: its place in the output is kept. */
  #isBurstNext = false;
  /** Bytes handed to the socket so far: a place in the client's output. */
  #handedBytes = 0;
  /** Where the last burst lies in the output, [start, end): not counted while the socket holds it. */
  #burstStart = 0;
  #burstEnd = 0;
  /** `#outputTaken()` when the sentence and idle clocks were last armed. */
  #sentenceMark = 0;
  #idleMark = 0;
  // Declared before #closed, whose initializer assigns it.
  #resolveClosed!: () => void;
  readonly #closed = new Promise<void>((resolve) => {
    this.#resolveClosed = resolve;
  });
  #onIdle: (() => void)[] = [];
  /** What this turn has for the client: it leaves as one buffer when the turn ends. */
  readonly #out = new WriteBatch();
  /** Output not yet handed to the socket: a long burst's slices and what came after them. */
  readonly #behind: Buffer[] = [];
  #behindBytes = 0;
  readonly #flush = (): void => {
    // Emptied already: by the goodbye, or by a drop (nothing goes to a dropped client).
    if (this.#out.isEmpty) return;
    const bytes = this.#out.take();
    this.#answerBytes = 0;
    if (this.#isBurstNext) {
      this.#isBurstNext = false;
      this.#burstStart = this.#handedBytes + this.#behindBytes;
      this.#burstEnd = this.#burstStart + bytes.length;
      if (bytes.length > BURST_SLICE_BYTES) {
        for (let at = 0; at < bytes.length; at += BURST_SLICE_BYTES)
          this.#behind.push(bytes.subarray(at, at + BURST_SLICE_BYTES));
        this.#behindBytes += bytes.length;
        this.#handOn();
        return;
      }
    }
    if (this.#behind.length > 0) {
      this.#behind.push(bytes);
      this.#behindBytes += bytes.length;
      return;
    }
    this.#handedBytes += bytes.length;
    // A write the socket takes at once brings no 'drain', and needs none.
    if (this.#socket.write(bytes)) this.#burstTaken();
    else this.#watchSending();
  };

  /** Hands the socket what waits behind a burst's slice, until it holds one write it has not taken. */
  #handOn(): void {
    let isTaken = true;
    while (isTaken && this.#behind.length > 0) {
      const bytes = this.#behind.shift() as Buffer;
      this.#behindBytes -= bytes.length;
      this.#handedBytes += bytes.length;
      isTaken = this.#socket.write(bytes);
    }
    if (isTaken) this.#burstTaken();
    else this.#watchSending();
  }

  /** The socket took all it was given: the send clock stops, and what waits behind goes on. */
  #drained(): void {
    clearTimeout(this.#sendTimer);
    this.#sendTimer = undefined;
    this.#handOn();
  }

  /**
   * Output waits for the client: it must take some of it within
   * `sendTimeoutMs`, or it is dropped (as nginx's `send_timeout`). A client
   * that reads slowly is given the time while it reads; one that reads
   * nothing holds its connection and its output no longer than that.
   */
  #watchSending(): void {
    const ms = this.#options.sendTimeoutMs ?? 60_000;
    if (ms <= 0 || this.#sendTimer !== undefined || this.#isClosed) return;
    const mark = this.#outputTaken();
    this.#sendTimer = setTimeout(() => {
      this.#sendTimer = undefined;
      if (this.#outputTaken() > mark) {
        this.#watchSending();
        return;
      }
      this.#options.stats.slowClientDrops++;
      this.#log.warn(
        { code: ErrorCode.SlowClient, sendTimeoutMs: ms, bufferedBytes: this.#unreadBytes() },
        'client took none of its output in time; dropped',
      );
      this.#socket.destroy();
      this.#onClose();
    }, ms);
    this.#sendTimer.unref();
  }

  constructor(socket: Duplex, options: ClientSessionOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#now = options.now ?? monotonicNow;
    this.#log = options.logger.child({ connId: options.connId });
    this.#decoder = new Decoder(options.preLoginDecoderLimits);
    this.#login = new ClientLogin({
      router: options.router,
      clientId: options.connId,
      address: options.address,
      authenticator: options.authenticator,
      gate: options.loginGate,
      observer: options.observer,
      logger: this.#log,
      isWanted: () => !this.#isClosed,
      codePage: options.clientCodePage,
    });
    this.#preLoginTimer = setTimeout(() => this.#fatal('login timeout'), options.preLoginTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#drained());
    socket.on('error', (err) => this.#log.debug({ err: err.message }, 'client socket error'));
    socket.on('close', () => this.#onClose());
  }

  /** The logged-in user, if any. */
  get user(): string | undefined {
    return this.#user;
  }

  /** Commands open now. */
  get inFlight(): number {
    return this.#open.size;
  }

  /** Who this client is and what it does, as the admin port lists it (`GET /monitoring/clients`). */
  snapshot(): ClientSnapshot {
    const { connId: id, address: source } = this.#options;
    const connected = { id, source, connectedAtMs: this.#connectedAtMs };
    const user = this.#user;
    if (user === undefined) return { ...connected, commands: 0, running: 0 };
    return {
      ...connected,
      user,
      method: this.#method,
      // The login's time on the session's clock, told on the wall clock.
      loggedInAtMs: Date.now() - (this.#now() - this.#loggedInAt),
      commands: this.#commandCount,
      running: this.#open.size,
    };
  }

  /** Resolves when the connection has ended. */
  closed(): Promise<void> {
    return this.#closed;
  }

  /** Resolves when no command is open. */
  idle(): Promise<void> {
    if (this.#open.size === 0 || this.#isClosed) return Promise.resolve();
    return new Promise((resolve) => this.#onIdle.push(resolve));
  }

  /** Shutdown: cancel what still runs, say goodbye, close. */
  shutdown(reason = 'rosgate is shutting down'): void {
    this.#fatal(reason);
  }

  /**
   * Decodes `chunk`, or with none what waited while reading was paused (a
   * login step), then watches what is left of a sentence.
   */
  #onData(chunk?: Buffer): void {
    const read = this.#sentencesRead;
    try {
      if (chunk === undefined) this.#decoder.resume(this.#onSentence);
      else this.#decoder.push(chunk, this.#onSentence);
    } catch (err) {
      this.#decodeFailed(err);
      return;
    }
    this.#watchPartial(read);
  }

  /**
   * Read no further sentence (the one being handled is the last) until
   * `#resumeReading`: what the client sent meanwhile waits in the decoder
   * and, past it, in the socket and TCP. While a login is checked that is
   * rosgate's doing, so the sentence clock stops; behind a burst it is the
   * client's, which must read on for the clock to be wound again.
   */
  #pauseReading(isForDrain = false): void {
    this.#isReadingPaused = true;
    this.#decoder.pause();
    this.#socket.pause();
    if (isForDrain) return;
    clearTimeout(this.#sentenceTimer);
    this.#sentenceTimer = undefined;
  }

  /** Read on, from the sentence after the one that paused reading. */
  #resumeReading(): void {
    this.#isReadingPaused = false;
    this.#socket.resume();
    this.#onData();
  }

  /**
   * This turn's answers to the client's own sentences (cache hits answer at
   * once) passed the socket's high-water mark: the burst leaves as one
   * write (in slices when long), and the next sentence is read once the
   * socket has taken it. A client that sends many prints at once is
   * answered as fast as it reads, and rosgate holds one burst for it, not
   * every answer.
   */
  #awaitDrain(): void {
    this.#isWaitingForDrain = true;
    this.#isBurstNext = true;
    this.#pauseReading(true);
  }

  /** The socket took the burst, at once or by 'drain': read on. */
  #burstTaken(): void {
    if (!this.#isWaitingForDrain) return;
    this.#isWaitingForDrain = false;
    this.#resumeReading();
  }

  /**
   * A sentence begun must end within `sentenceTimeoutMs` (invariant 7: a
   * peer cannot pin the decoder's bytes by never finishing one). The clock
   * starts with the partial sentence and restarts when a sentence ends.
   */
  #watchPartial(readBefore: number): void {
    const ms = this.#options.sentenceTimeoutMs ?? 60_000;
    if (ms <= 0 || this.#isClosed || (this.#isReadingPaused && !this.#isWaitingForDrain)) return;
    if (this.#decoder.pendingBytes === 0) {
      clearTimeout(this.#sentenceTimer);
      this.#sentenceTimer = undefined;
      return;
    }
    if (this.#sentenceTimer !== undefined && this.#sentencesRead === readBefore) return;
    this.#armSentenceTimer(ms);
  }

  #armSentenceTimer(ms: number): void {
    clearTimeout(this.#sentenceTimer);
    this.#sentenceMark = this.#outputTaken();
    this.#sentenceTimer = setTimeout(() => {
      // Behind a burst the rest of the sentence is not read until the
      // client reads: it has time while it does.
      if (this.#isWaitingForDrain && this.#outputTaken() > this.#sentenceMark)
        this.#armSentenceTimer(ms);
      else this.#fatal('sentence not completed in time');
    }, ms);
    this.#sentenceTimer.unref();
  }

  /**
   * Bytes of output the socket has passed on (whole writes). Once the
   * kernel's buffer is full they grow only as the client reads.
   */
  #outputTaken(): number {
    return this.#handedBytes - this.#socket.writableLength;
  }

  #decodeFailed(err: unknown): void {
    if (err instanceof RosgateError && isFraming(err)) {
      // One policy per boundary: a framing error ends this client only.
      this.#log.warn({ code: err.code }, 'client framing error');
      this.#options.stats.framingErrors++;
      this.#fatal('protocol error');
      return;
    }
    // Anything else is rosgate's own fault: it must not end the process.
    this.#log.error({ err }, 'client session failed; closing it');
    this.#fatal('internal error');
  }

  /** What the decoder calls for each sentence: made once, not per chunk. */
  readonly #onSentence = (sentence: Sentence): void => {
    this.#sentencesRead++;
    this.#isAnswering = true;
    try {
      this.#receive(sentence);
    } finally {
      this.#isAnswering = false;
    }
    // Its own answers of this turn passed the socket's high-water mark (a
    // router's rows do not pause reading: a /cancel must get through).
    if (!this.#isReadingPaused && this.#answerBytes >= this.#socket.writableHighWaterMark)
      this.#awaitDrain();
  };

  #receive(sentence: Sentence): void {
    if (this.#isClosed) return;
    // Reading pauses while a login is checked, so a sentence is counted
    // here only if it is handled while logged out (§3.4).
    if (this.#user === undefined) {
      this.#preLoginSentences++;
      if (this.#preLoginSentences > this.#options.preLoginMaxSentences) {
        this.#fatal('too many commands before login');
        return;
      }
    } else {
      this.#armIdleTimer();
    }
    this.#handleGuarded(sentence);
  }

  #refuseOverLimit(tag: Buffer | undefined): void {
    this.#options.stats.refusedInFlight++;
    this.#trap(
      tag,
      new RosgateError(
        ErrorCode.ClientLimit,
        `too many commands in flight (limit ${this.#options.maxInFlightPerClient})`,
      ),
    );
  }

  /** A throw while handling one sentence refuses that sentence, not the connection. */
  #handleGuarded(sentence: Sentence): void {
    try {
      this.#handle(sentence);
    } catch (err) {
      this.#log.error({ err }, 'handling a client sentence failed');
      this.#trap(sentence.tag, toRosgateError(err));
    }
  }

  #handle(sentence: Sentence): void {
    const description = describeCommand(sentence);
    const { kind } = description.command;
    if (kind === 'login') {
      this.#startLogin(sentence);
      return;
    }
    if (kind === 'quit') {
      this.#fatal('session terminated on request');
      return;
    }
    if (this.#user === undefined) {
      this.#trap(sentence.tag, new RosgateError(ErrorCode.NotLoggedIn, 'not logged in'));
      return;
    }
    if (kind === 'cancel') {
      this.#cancel(sentence);
      return;
    }
    if (kind === 'keepalive') {
      // node-routeros's keepalive: answered here so it never waits behind a
      // busy router (docs/routeros-api.md §9).
      if (this.#options.keepaliveReply === 'done')
        this.#answer(sentence.tag, encodeDone(sentence.tag));
      else
        this.#trap(sentence.tag, new RosgateError(ErrorCode.Keepalive, 'no such command prefix'));
      return;
    }
    this.#submit(description);
  }

  // -- login (docs/routeros-api.md §3) ---------------------------------------------

  #startLogin(sentence: Sentence): void {
    // Nothing is read while a login step is under way: what follows it is
    // read once it is answered, with the limits it leaves in force, and in
    // order (docs/architecture.md code rule 4a). The socket's own buffer
    // and TCP bound what waits.
    this.#pauseReading();
    if (ClientLogin.isChallengeRequest(sentence)) {
      // The legacy flow's first step: exactly one sentence with a challenge (§3.3).
      void this.#login.challenge().then((hex) => {
        if (this.#isClosed) {
          this.#login.close();
          return;
        }
        this.#answer(sentence.tag, encodeDone(sentence.tag, { ret: hex }));
        this.#resumeReading();
      });
      return;
    }
    void this.#login.check(sentence).then((outcome) => this.#loginAnswered(sentence.tag, outcome));
  }

  #loginAnswered(tag: Buffer | undefined, outcome: LoginOutcome): void {
    if (this.#isClosed) return;
    const stats = this.#options.stats;
    if (outcome.isOk) {
      stats.loginsOk++;
      // A second login in the same session changes the user; commands go on,
      // counted from here for the new one.
      this.#loggedOut();
      this.#user = outcome.user;
      this.#method = outcome.method;
      this.#loggedInAt = this.#now();
      this.#commandCount = 0;
      this.#options.observer?.loginSucceeded(this.#loginEvent(outcome.user));
      clearTimeout(this.#preLoginTimer);
      this.#decoder.setLimits(this.#options.decoderLimits);
      this.#armIdleTimer();
      this.#log.info({ user: outcome.user, method: outcome.method }, 'client logged in');
      this.#answer(tag, encodeDone(tag));
    } else {
      stats.loginsFailed++;
      this.#log.warn(
        { user: outcome.user, code: outcome.error.code, reason: outcome.error.message },
        'client login refused',
      );
      this.#trap(tag, outcome.error);
    }
    this.#resumeReading();
  }

  // -- commands --------------------------------------------------------------

  #submit(description: CommandDescription): void {
    const { sentence } = description;
    const tag = sentence.tag;
    if (this.#open.size >= this.#options.maxInFlightPerClient) {
      this.#refuseOverLimit(tag);
      return;
    }
    const command = new ClientCommand(description, tag, this.#commandHost);
    this.#open.add(command);
    this.#commandCount++;
    if (tag === undefined) {
      // Untagged replies cannot be told apart, so a client's untagged
      // commands run one at a time, in order (docs/routeros-api.md §4 rule 4).
      if (this.#untaggedActive !== undefined) {
        this.#untaggedQueue.push(command);
        return;
      }
      this.#untaggedActive = command;
    }
    this.#dispatch(command);
  }

  #dispatch(command: ClientCommand): void {
    command.state = 'running';
    const options = this.#options;
    const { description } = command;
    try {
      // Every field written out (no spread): one shape for every context.
      const context: CommandContext = {
        router: options.router,
        user: this.#user as string,
        clientId: options.connId,
        address: options.address,
        sentence: description.sentence,
        command: description.command,
        receivedAt: this.#now(),
        notes: {},
      };
      command.exchange = options.handler.handle(context, command);
      options.stats.commandsForwarded++;
    } catch (err) {
      // A throw from a stage costs this command only (docs/architecture.md: every call
      // into a handler is guarded); one answered before the throw keeps its
      // answer, as the sink ignores a second end.
      command.refuse(toRosgateError(err));
    }
  }

  /** Where every command's sink calls back: what reaches the client, with its tag. */
  readonly #commandHost: CommandHost = {
    reply: (command, reply) => {
      if (command.state === 'done' || this.#isClosed) return;
      if (reply.command === '!empty' && this.#options.emptyReplies === 'strip') return;
      this.#writeSentence(reply, command.tag);
    },
    done: (command, done) => {
      if (command.state === 'done') return;
      this.#writeSentence(done, command.tag);
      this.#finish(command);
    },
    refuse: (command, error) => {
      if (command.state === 'done') return;
      this.#refuse(command, error);
    },
  };

  /** End a command with `!trap` + `!done` on its tag (docs/architecture.md invariant 6). */
  #refuse(command: ClientCommand, error: RosgateError): void {
    this.#log.debug({ cmd: command.sentence.command, code: error.code }, 'command refused');
    this.#write(trapDone(command.tag, error));
    this.#finish(command);
  }

  /** rosgate's own `!trap` + `!done` for a sentence that is not a command in flight. */
  #trap(tag: Buffer | undefined, error: RosgateError): void {
    this.#answer(tag, trapDone(tag, error));
  }

  /**
   * rosgate's own answer to a client sentence. An untagged one waits for
   * the client's earlier untagged commands: a client that reads untagged
   * answers in order must not read it against one of them (§4 rule 4).
   */
  #answer(tag: Buffer | undefined, bytes: Buffer): void {
    const last =
      tag === undefined ? (this.#untaggedQueue.at(-1) ?? this.#untaggedActive) : undefined;
    if (last === undefined) {
      this.#write(bytes);
      return;
    }
    (last.answersAfter ??= []).push(bytes);
    this.#heldAnswerBytes += bytes.length;
    this.#checkBound();
  }

  #finish(command: ClientCommand): void {
    command.state = 'done';
    this.#open.delete(command);
    const after = command.answersAfter;
    if (after !== undefined) {
      command.answersAfter = undefined;
      for (const bytes of after) {
        this.#heldAnswerBytes -= bytes.length;
        this.#write(bytes);
      }
    }
    if (this.#open.size === 0) {
      // Nobody waits, mostly: no empty copy of the waiters per command.
      if (this.#onIdle.length > 0) for (const resolve of this.#onIdle.splice(0)) resolve();
      this.#armIdleTimer();
    }
    if (command === this.#untaggedActive) {
      this.#untaggedActive = this.#untaggedQueue.shift();
      if (this.#untaggedActive !== undefined) this.#dispatch(this.#untaggedActive);
    }
  }

  // -- cancel (docs/routeros-api.md §5) ---------------------------------------------

  #cancel(sentence: Sentence): void {
    if (this.#pendingCancels >= this.#options.maxInFlightPerClient) {
      this.#refuseOverLimit(sentence.tag);
      return;
    }
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
    // done(cancel), done(X) (docs/routeros-api.md §5).
    this.#pendingCancels++;
    let waiting = targets.length + 1;
    const answered = (): void => {
      if (--waiting > 0) return;
      this.#pendingCancels--;
      this.#answer(tag, encodeDone(tag));
    };
    for (const command of targets) this.#cancelCommand(command, answered);
    answered();
  }

  /** Cancel one command; `onAnswered` runs once it is acknowledged. One cancel per command reaches the pipeline. */
  #cancelCommand(command: ClientCommand, onAnswered: () => void): void {
    if (command.state === 'queued') {
      // Not yet in the pipeline: answer as the router would (category 2).
      this.#untaggedQueue.splice(this.#untaggedQueue.indexOf(command), 1);
      this.#refuse(command, new RosgateError(ErrorCode.Interrupted, 'interrupted'));
      onAnswered();
      return;
    }
    if (command.cancelWaiters === 'answered') {
      onAnswered();
      return;
    }
    if (command.cancelWaiters !== undefined) {
      command.cancelWaiters.push(onAnswered);
      return;
    }
    const waiters = [onAnswered];
    command.cancelWaiters = waiters;
    const answered = (): void => {
      command.cancelWaiters = 'answered';
      for (const waiter of waiters.splice(0)) waiter();
    };
    try {
      (command.exchange as Exchange).cancel(answered);
    } catch (err) {
      this.#refuse(command, toRosgateError(err));
      answered();
    }
  }

  // -- output and teardown ---------------------------------------------------

  #write(bytes: Buffer): void {
    if (this.#isClosed) return;
    this.#schedule();
    const before = this.#out.byteLength;
    this.#out.push(bytes);
    this.#added(before);
  }

  /** `sentence` with the client's `tag` in place of the router's (docs/architecture.md invariant 2). */
  #writeSentence(sentence: Sentence, tag: Buffer | undefined): void {
    if (this.#isClosed) return;
    this.#schedule();
    const before = this.#out.byteLength;
    this.#out.pushSentence(sentence, tag);
    this.#added(before);
  }

  /** The batch grew from `before` bytes: an answer to a sentence being handled, or output to count. */
  #added(before: number): void {
    if (this.#isAnswering) this.#answerBytes += this.#out.byteLength - before;
    this.#checkBound();
  }

  /**
   * Replies decoded from one upstream chunk leave in one write of one
   * buffer, on the next tick (docs/routeros-api.md §9: everything available in one
   * write).
   */
  #schedule(): void {
    if (this.#out.isEmpty) process.nextTick(this.#flush);
  }

  /**
   * A client that does not read is dropped once the output waiting for it
   * passes the bound (invariant 4). Answers to its own sentences given at
   * once are not counted, in this turn's batch nor, as a burst, while the
   * socket still holds them: a client that reads them is never dropped for
   * them; one that does not reads nothing more meanwhile, and is dropped by
   * what comes after them. What they cost is bounded by the pause: the
   * socket's high-water mark and one answer.
   */
  #checkBound(): void {
    const bufferedBytes = this.#unreadBytes();
    if (bufferedBytes > this.#options.maxOutputBufferBytes) {
      this.#options.stats.slowClientDrops++;
      this.#log.warn(
        { code: ErrorCode.SlowClient, bufferedBytes },
        'client too slow to read; dropped',
      );
      this.#socket.destroy();
      this.#onClose();
    }
  }

  /** What the bound counts: what the socket holds but the burst, this turn's batch but its answers, and the answers held back. */
  #unreadBytes(): number {
    const pending = this.#socket.writableLength + this.#behindBytes;
    // Output leaves in order: the socket and the slices behind it hold the last `pending` bytes.
    const pendingFrom = this.#handedBytes + this.#behindBytes - pending;
    const burstPending = Math.max(0, this.#burstEnd - Math.max(pendingFrom, this.#burstStart));
    const waiting = this.#out.byteLength - this.#answerBytes;
    return pending - burstPending + waiting + this.#heldAnswerBytes;
  }

  /** A logged-in client with nothing open is closed after `clientIdleTimeoutMs` of silence. */
  #armIdleTimer(): void {
    const ms = this.#options.clientIdleTimeoutMs;
    if (ms <= 0 || this.#isClosed) return;
    clearTimeout(this.#idleTimer);
    this.#idleMark = this.#outputTaken();
    this.#idleTimer = setTimeout(() => {
      // While what it sent waits unread behind a burst (the sentence clock
      // watches that), or while it reads the burst, it is not silent.
      const isBusy =
        this.#isWaitingForDrain &&
        (this.#decoder.pendingBytes > 0 || this.#outputTaken() > this.#idleMark);
      if (isBusy) this.#armIdleTimer();
      else if (this.#open.size === 0) this.#fatal('idle timeout');
    }, ms);
    this.#idleTimer.unref();
  }

  /** `!fatal` with a reason, then close (protocol violations, `/quit`, shutdown). */
  #fatal(reason: string): void {
    if (this.#isClosed) return;
    // What waits for the socket, and what the turn had, go before the goodbye.
    for (const bytes of this.#behind.splice(0)) this.#socket.write(bytes);
    this.#out.push(encodeFatal(reason));
    this.#socket.end(this.#out.take());
    // A peer that never closes its side must not hold a shutdown open.
    setTimeout(() => this.#socket.destroy(), FATAL_LINGER_MS).unref();
    this.#onClose();
  }

  #onClose(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    // A client gone or dropped gets nothing more; a goodbye took its part already.
    this.#out.clear();
    this.#behind.length = 0;
    this.#behindBytes = 0;
    clearTimeout(this.#preLoginTimer);
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#sentenceTimer);
    clearTimeout(this.#sendTimer);
    this.#login.close();
    // Queued untagged commands never reach the pipeline; running ones are
    // cancelled there (no orphaned streams) and finish through their sinks.
    for (const command of this.#untaggedQueue.splice(0)) this.#finish(command);
    for (const command of [...this.#open]) this.#cancelCommand(command, () => undefined);
    for (const resolve of this.#onIdle.splice(0)) resolve();
    this.#loggedOut();
    this.#resolveClosed();
  }

  /** Tells the observer the logged-in user (if any) is gone: the session ended, or another logged in on it. */
  #loggedOut(): void {
    if (this.#user === undefined) return;
    this.#options.observer?.loggedOut({
      ...this.#loginEvent(this.#user),
      durationMs: this.#now() - this.#loggedInAt,
      commands: this.#commandCount,
    });
  }

  /** `user`'s login on this session, with the method in force. */
  #loginEvent(user: string): LoginEvent {
    const { router, connId: clientId, address } = this.#options;
    return { router, user, clientId, address, method: this.#method };
  }
}

const FRAMING_CODES: ReadonlySet<string> = new Set([
  ErrorCode.FramingControlByte,
  ErrorCode.WordTooLong,
  ErrorCode.TooManyWords,
  ErrorCode.SentenceTooLong,
  ErrorCode.BadSentence,
]);

function trapDone(tag: Buffer | undefined, error: RosgateError): Buffer {
  const category = error.code === ErrorCode.Interrupted ? TrapCategory.Interrupted : undefined;
  return encodeTrapDone(tag, error.message, category);
}

function isFraming(err: RosgateError): boolean {
  return FRAMING_CODES.has(err.code);
}
