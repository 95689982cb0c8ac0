import type { Socket } from 'node:net';
import {
  challengeToHex,
  createChallenge,
  Decoder,
  doneWords,
  encodeFatal,
  Sentence,
  trapWords,
  verifyResponse,
  type Tag,
  type TrapCategory,
  type WordInput,
} from '../protocol/index.js';
import { Command, encodeReplies, type ReplySink } from './command.js';
import { countCommand, type SimulatorContext } from './context.js';
import { dispatch } from './dispatch.js';
import type { DuplicateTags } from './options.js';
import { LoginMode } from './version.js';

/**
 * One API connection: framing, login, tags, `/cancel`, `/quit`, and the
 * commands it runs. It never throws at the server: a framing error closes
 * this socket only (docs/routeros-api.md §1).
 *
 * What it reads but cannot work on yet waits, in order: what follows a
 * `/login` under way, and everything while `stopAnswering` is on (a
 * stalled router), when the replies its commands write wait too. It goes
 * on once the login has answered or answering resumes ({@link resume}).
 * Past `maxBacklogBytes` of waiting sentences and replies the connection
 * is closed, as a router whose buffer overflowed would.
 */
export class Session {
  readonly #socket: Socket;
  readonly #ctx: SimulatorContext;
  readonly #decoder: Decoder;
  readonly #running = new Set<Command>();
  readonly #sink: ReplySink;
  #drainWaiters: (() => void)[] = [];
  #isLoggedIn = false;
  #isClosed = false;
  #challenge: Buffer | undefined;
  #preLoginSentences = 0;
  /** The tail of the one-at-a-time queue (oneCommandAtATime). */
  #queue: Promise<void> = Promise.resolve();
  /**
   * A `/login` is under way: a router takes a connection's sentences in
   * order, so what comes next waits for the login's answer.
   */
  #isLoginPending = false;
  /** Sentences read and not worked on yet (copies: they outlive the read), in order. */
  #waiting: Sentence[] = [];
  /** Replies written while `stopAnswering` is on, in order. */
  #heldReplies: Buffer[] = [];
  /** Bytes of `#waiting` and `#heldReplies`. */
  #heldBytes = 0;

  constructor(socket: Socket, ctx: SimulatorContext, onClose: () => void) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.#decoder = new Decoder(ctx.options.decoderLimits);
    this.#sink = { send: (data) => this.#send(data), drained: () => this.#drained() };
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#wakeDrainWaiters());
    socket.on('error', () => {
      // 'close' follows and cleans up.
    });
    socket.on('close', () => {
      this.#isClosed = true;
      ctx.counters.sentencesWaiting -= this.#waiting.length;
      this.#waiting = [];
      for (const command of [...this.#running]) command.abandon();
      this.#wakeDrainWaiters();
      onClose();
    });
  }

  /** Close the connection now, without a word. */
  destroy(): void {
    this.#socket.destroy();
  }

  /** `stopAnswering` was turned off: write the replies held, then work through what waited. */
  resume(): void {
    const replies = this.#heldReplies;
    this.#heldReplies = [];
    for (const data of replies) {
      this.#heldBytes -= data.length;
      this.#socket.write(data);
    }
    this.#work();
  }

  #onData(chunk: Buffer): void {
    try {
      this.#decoder.push(chunk, (sentence) => this.#onSentence(sentence));
    } catch {
      // A framing error or a limit: the stream cannot be trusted any more.
      this.destroy();
    }
  }

  #send(data: Buffer): boolean {
    if (this.#ctx.faults.stopAnswering) {
      if (this.#hold(data.length)) this.#heldReplies.push(data);
      return true;
    }
    // A write after close only emits 'error', which is handled.
    return this.#socket.write(data);
  }

  /**
   * Counts `bytes` more waiting; past `maxBacklogBytes` the connection is
   * closed (a router's buffer overflowing) and false says to drop them.
   */
  #hold(bytes: number): boolean {
    this.#heldBytes += bytes;
    if (this.#heldBytes <= this.#ctx.options.maxBacklogBytes) return true;
    this.#isClosed = true;
    this.destroy();
    return false;
  }

  #drained(): Promise<void> {
    // write() returned false; only a socket closed in the meantime no longer needs a drain.
    /* c8 ignore next */
    if (!this.#socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #wakeDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Write reply sentences with the tag where the options put it. */
  #reply(sentences: readonly (readonly WordInput[])[]): void {
    this.#send(encodeReplies(sentences, this.#ctx.options.tagPosition));
  }

  /** `!trap` then `!done` on `tag`, in one write. */
  #trapDone(tag: Tag, message: string, category?: TrapCategory): void {
    this.#reply([trapWords(tag, message, category), doneWords(tag)]);
  }

  /** Write `!fatal <reason>` and close (§2). */
  #fatal(reason: string): void {
    this.#send(encodeFatal(reason));
    for (const command of [...this.#running]) command.abandon();
    this.#isClosed = true;
    this.#socket.end();
  }

  #onSentence(sentence: Sentence): void {
    if (this.#isClosed) return;
    if (this.#mustWait() || this.#waiting.length > 0) {
      // A copy, counted as the copy: the decoder reuses its bytes, and a
      // client's overlong length prefixes are not the copy's.
      const copy = Sentence.from(sentence.words);
      if (this.#hold(copy.byteLength)) {
        this.#waiting.push(copy);
        this.#ctx.counters.sentencesWaiting++;
      }
      return;
    }
    this.#take(sentence);
  }

  #mustWait(): boolean {
    return this.#isLoginPending || this.#ctx.faults.stopAnswering;
  }

  /** Works through what waited, in order, until a login or the fault holds the rest again. */
  #work(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const [at, sentence] of waiting.entries()) {
      if (this.#isClosed || this.#mustWait()) {
        this.#waiting = waiting.slice(at);
        return;
      }
      this.#heldBytes -= sentence.byteLength;
      this.#ctx.counters.sentencesWaiting--;
      this.#take(sentence);
    }
  }

  /** Runs one sentence: login rules, `/quit`, `/cancel`, or a command. */
  #take(sentence: Sentence): void {
    const { options, counters } = this.#ctx;
    const path = sentence.command;
    countCommand(counters, path);
    const tag = commandTag(sentence, options.duplicateTags);
    if (!this.#isLoggedIn) {
      this.#preLoginSentences++;
      if (this.#preLoginSentences > options.preLoginMaxSentences) {
        this.#fatal('too many commands before login');
        return;
      }
      if (path !== '/login' && path !== '/quit') {
        this.#trapDone(tag, options.notLoggedInMessage);
        return;
      }
    }
    if (path === '/quit') {
      // §5: `!fatal` is untagged, and the session ends.
      this.#fatal('session terminated on request');
      return;
    }
    if (path === '/cancel') {
      counters.cancels++;
      this.#cancel(sentence, tag);
      return;
    }
    if (this.#running.size >= options.maxCommandsPerSession) {
      this.#trapDone(tag, 'too many commands');
      return;
    }
    const command = new Command(this.#sink, options.timers, path, tag, options.tagPosition);
    this.#running.add(command);
    command.onEnd(() => this.#running.delete(command));
    if (path === '/login' && !this.#isLoggedIn) this.#holdUntilEnded(command);
    const run = (): Promise<void> =>
      this.#execute(command, sentence).catch(
        /* c8 ignore next -- a bug in a command must cost its connection, not the process */
        () => this.destroy(),
      );
    if (options.oneCommandAtATime) this.#queue = this.#queue.then(run);
    else void run();
  }

  /** Holds what comes next until `login` has answered, then takes it in order. */
  #holdUntilEnded(login: Command): void {
    this.#isLoginPending = true;
    void login.ended.then(() => {
      this.#isLoginPending = false;
      // Another login among them holds the rest again.
      this.#work();
    });
  }

  async #execute(command: Command, sentence: Sentence): Promise<void> {
    await command.sleep(this.#ctx.faults.latencyMs);
    if (command.isFinished) return;
    if (command.path === '/login') this.#login(command, sentence);
    else await dispatch(this.#ctx, command, sentence);
    await command.ended;
  }

  /**
   * `/cancel` (§5): the interrupted trap of each cancelled command, then the
   * cancel's own `!done`, then each cancelled command's `!done`, in one write.
   */
  #cancel(sentence: Sentence, tag: Buffer | undefined): void {
    const target = sentence.attribute('tag');
    const key = target?.toString('latin1');
    const victims = [...this.#running].filter(
      (command) => key === undefined || command.tagKey === key,
    );
    if (key !== undefined && victims.length === 0) {
      const isTrap = this.#ctx.options.cancelUnknownTagReply === 'trap';
      if (isTrap) this.#trapDone(tag, 'no such command', 0);
      else this.#reply([doneWords(tag)]);
      return;
    }
    const sentences: WordInput[][] = [];
    for (const victim of victims) sentences.push(...victim.interrupt());
    sentences.push(doneWords(tag));
    for (const victim of victims) sentences.push(victim.doneWords());
    this.#reply(sentences);
  }

  /** `/login` by the version's rules (§3, items 8-11, 50). */
  #login(command: Command, sentence: Sentence): void {
    const { options, profile, counters } = this.#ctx;
    const name = sentence.attribute('name');
    const password = sentence.attribute('password');
    const response = sentence.attribute('response');
    const isBare = name === undefined && password === undefined && response === undefined;
    // A pre-6.43 router ignores the words it does not know and sends a challenge (§3.2).
    const wantsChallenge = profile.loginMode === LoginMode.Legacy ? response === undefined : isBare;
    if (wantsChallenge) {
      this.#challenge = createChallenge();
      command.finish([], { ret: challengeToHex(this.#challenge) });
      return;
    }
    // The account in /user decides, as it is now (added, changed, disabled
    // over the API); an unknown or disabled name never logs in.
    const users = this.#ctx.db.require('/user');
    const account = name === undefined ? undefined : users.findBy('name', name);
    const isUser = account !== undefined && account.get('disabled')?.toString() !== 'true';
    // A user without a password has the empty one.
    const secret =
      (account === undefined
        ? undefined
        : users.secretOf(String(account.get('.id')), 'password')) ?? Buffer.alloc(0);
    const isPassword = (given: Buffer | undefined): boolean =>
      given !== undefined && given.equals(secret);
    const isResponse = (): boolean =>
      response !== undefined &&
      this.#challenge !== undefined &&
      verifyResponse(secret, this.#challenge, response);
    let isOk: boolean;
    if (profile.loginMode === LoginMode.Legacy) isOk = isResponse();
    else if (profile.loginMode === LoginMode.Both)
      isOk =
        isResponse() ||
        isPassword(password ?? (response === undefined ? Buffer.alloc(0) : undefined));
    // 6.45.1+ no longer validates challenge answers (§3.2).
    else isOk = isPassword(password ?? (response === undefined ? Buffer.alloc(0) : undefined));
    isOk &&= isUser;
    if (isOk) {
      this.#isLoggedIn = true;
      counters.loginsOk++;
      command.finish();
      return;
    }
    counters.loginsFailed++;
    command.fail(profile.loginFailedMessage);
    if (options.failedLoginCloses && !this.#isLoggedIn) {
      this.#isClosed = true;
      this.#socket.end();
    }
  }
}

/**
 * The tag a command is answered on (a copy: the sentence's buffer is reused).
 * With several tag words, the first or the last one decides (unconfirmed, §4).
 */
function commandTag(sentence: Sentence, duplicateTags: DuplicateTags): Buffer | undefined {
  let index = sentence.tagIndex;
  if (duplicateTags === 'last' && index >= 0) {
    // The last tag word: looked for from the end, down to the first one.
    let last = sentence.wordCount - 1;
    while (last > index && !sentence.isTagWord(last)) last--;
    index = last;
  }
  const word = index < 0 ? undefined : sentence.word(index);
  return word === undefined || word.length <= TAG_PREFIX.length
    ? undefined
    : Buffer.from(word.subarray(TAG_PREFIX.length));
}

const TAG_PREFIX = Buffer.from('.tag=', 'latin1');
