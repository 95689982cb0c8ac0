import net from 'node:net';
import tls from 'node:tls';
import { ErrorCode, RosgateError } from '../errors.js';
import { Decoder, encodeSentence, type Sentence, type WordInput } from '../protocol/index.js';

/** Where and how to reach the router for a relayed login. */
export interface ChallengeRelayOptions {
  host: string;
  port: number;
  /** TLS options, as for UpstreamConnection; plain TCP when undefined. */
  tls?: tls.ConnectionOptions | undefined;
  /** Deadline for each step (connect, challenge, answer). */
  timeoutMs: number;
}

/** Limits for the few short sentences a login exchanges. */
const LOGIN_LIMITS = { maxWordBytes: 4096, maxWordsPerSentence: 16, maxSentenceBytes: 8192 };

/**
 * A legacy challenge login relayed to a router older than 6.45.1
 * (docs/routeros-api.md §3.2): rosgate asks the router for a challenge, hands it to
 * the client, and lets the router check the client's MD5 response, so
 * rosgate never needs the client's plaintext.
 */
export class ChallengeRelay {
  readonly #socket: net.Socket;
  readonly #timeoutMs: number;
  readonly #decoder = new Decoder(LOGIN_LIMITS);
  #waiter: ((sentence: Sentence | RosgateError) => void) | undefined;
  #received: Sentence[] = [];
  #error: RosgateError | undefined;
  /** The router's challenge, 32 hex digits, once `open()` has resolved. */
  challengeHex = '';

  private constructor(socket: net.Socket, timeoutMs: number) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#decoder.push(chunk, (s) => this.#deliver(s));
      } catch (err) {
        this.#stop(relayError('the router sent bytes that break the protocol', err));
      }
    });
    socket.on('error', (err) => this.#stop(relayError('router connection error', err)));
    socket.on('close', () => this.#stop(relayError('the router closed the connection')));
  }

  /** Connect and fetch the router's challenge; rejects with a RosgateError. */
  static async open(options: ChallengeRelayOptions): Promise<ChallengeRelay> {
    const socket =
      options.tls === undefined
        ? net.connect({ host: options.host, port: options.port })
        : tls.connect({ ...options.tls, host: options.host, port: options.port });
    const relay = new ChallengeRelay(socket, options.timeoutMs);
    try {
      const done = await relay.#exchange(['/login']);
      const hex = done.attributeString('ret');
      if (done.command !== '!done' || hex === undefined || !/^[0-9a-f]{32}$/i.test(hex))
        throw relayError('the router sent no login challenge');
      relay.challengeHex = hex.toLowerCase();
      return relay;
    } catch (err) {
      relay.close();
      throw err;
    }
  }

  /** Let the router check the client's answer; true when it accepts. Closes the relay. */
  async check(name: Buffer, response: Buffer): Promise<boolean> {
    try {
      const answer = await this.#exchange([
        '/login',
        Buffer.concat([Buffer.from('=name=', 'latin1'), name]),
        Buffer.concat([Buffer.from('=response=', 'latin1'), response]),
      ]);
      if (answer.command === '!done') return true;
      // A refusal is `!trap` then `!done`; read the `!done` before closing.
      return false;
    } finally {
      this.close();
    }
  }

  close(): void {
    this.#stop(relayError('relay closed'));
    this.#socket.destroy();
  }

  /** Send one sentence and wait for the first reply sentence. */
  #exchange(words: WordInput[]): Promise<Sentence> {
    return new Promise((resolve, reject) => {
      if (this.#error !== undefined) {
        reject(this.#error);
        return;
      }
      const timer = setTimeout(
        () => this.#stop(relayError('the router did not answer the login in time')),
        this.#timeoutMs,
      );
      this.#waiter = (reply) => {
        clearTimeout(timer);
        this.#waiter = undefined;
        if (reply instanceof RosgateError) reject(reply);
        else resolve(reply);
      };
      this.#socket.write(encodeSentence(words));
      const early = this.#received.shift();
      if (early !== undefined) this.#waiter(early);
    });
  }

  #deliver(sentence: Sentence): void {
    if (this.#waiter === undefined) this.#received.push(sentence);
    else this.#waiter(sentence);
  }

  #stop(error: RosgateError): void {
    this.#error ??= error;
    this.#waiter?.(this.#error);
  }
}

function relayError(message: string, cause?: unknown): RosgateError {
  return new RosgateError(ErrorCode.UpstreamClosed, `legacy login relay: ${message}`, {
    ...(cause === undefined ? {} : { cause }),
  });
}
