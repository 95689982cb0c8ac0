import type { Logger } from 'pino';
import { ErrorCode, RosgateError, isRosgateError } from '../errors.js';
import type { LoginGate, SessionObserver } from '../pipeline.js';
import {
  challengeToHex,
  createChallenge,
  readClientText,
  verifyResponse,
  type CodePage,
  type Sentence,
} from '../protocol/index.js';
import type { Authenticator, LegacyChallenge } from './authenticator.js';

/** What one client's logins need. */
export interface ClientLoginOptions {
  router: string;
  clientId: number;
  address: string;
  authenticator: Authenticator;
  /** Brute-force lockout: asked before any check, told every outcome. */
  gate?: LoginGate | undefined;
  observer?: SessionObserver | undefined;
  logger: Logger;
  /** False once the client has gone: its pending check is dropped. */
  isWanted: () => boolean;
  /** The code page a name that is not UTF-8 is read in (`limits.clientCodePage`). @default 'windows-1252' */
  codePage?: CodePage | undefined;
}

export type LoginMethod = 'plain' | 'challenge';

/** How a login ended. */
export type LoginOutcome =
  | { readonly isOk: true; readonly user: string; readonly method: LoginMethod }
  | {
      readonly isOk: false;
      readonly user: string;
      readonly method: LoginMethod;
      readonly error: RosgateError;
    };

/** RouterOS's own words for a wrong password (docs/routeros-api.md §3). */
const INVALID_LOGIN = 'invalid user name or password (6)';

/** Said once per user name, so a misconfigured client does not flood the log. */
const warnedLegacy = new Set<string>();
const MAX_WARNED = 1000;

/**
 * One client's login (docs/routeros-api.md §3): the plain `/login =name= =password=`
 * of RouterOS 6.43+, and the legacy MD5 challenge (`/login` answered with
 * `=ret=`, then `=name= =response=`). A valid challenge response wins;
 * otherwise the password decides.
 */
export class ClientLogin {
  readonly #options: ClientLoginOptions;
  #challenge: Buffer | undefined;
  /** A router challenge handed to the client, when the router checks the answer. */
  #relayed: LegacyChallenge | undefined;
  /** Why the router's challenge was not relayed, when a limit said no. */
  #relayRefusal: RosgateError | undefined;

  constructor(options: ClientLoginOptions) {
    this.#options = options;
  }

  /** True for the legacy flow's first step: `/login` with no credentials. */
  static isChallengeRequest(sentence: Sentence): boolean {
    return (
      !sentence.hasAttribute('name') &&
      !sentence.hasAttribute('password') &&
      !sentence.hasAttribute('response')
    );
  }

  /**
   * A challenge, as the hex the `!done =ret=` carries (§3.3): the router's
   * own when it can still check answers (before 6.45.1), else a fresh one
   * rosgate checks itself.
   */
  async challenge(): Promise<string> {
    this.close();
    this.#relayRefusal = undefined;
    try {
      this.#relayed = await this.#options.authenticator.openLegacyChallenge?.();
    } catch (err) {
      if (isRosgateError(err, ErrorCode.ClientLimit)) {
        // Clients flooding bare logins would flood the log as well.
        this.#options.logger.debug(
          { code: err.code },
          "legacy relays at their limit; issuing rosgate's own challenge",
        );
        this.#relayRefusal = err;
      } else
        this.#options.logger.warn(
          { code: isRosgateError(err) ? err.code : ErrorCode.Internal },
          "cannot relay a legacy login challenge; issuing rosgate's own",
        );
    }
    if (this.#relayed !== undefined) return this.#relayed.challengeHex;
    this.#challenge = createChallenge();
    return challengeToHex(this.#challenge);
  }

  /** Drop a relayed challenge nobody will answer (the client left, or asked again). */
  close(): void {
    this.#relayed?.close();
    this.#relayed = undefined;
  }

  /** Check a `/login` sentence that carries credentials. Never rejects. */
  async check(sentence: Sentence): Promise<LoginOutcome> {
    const nameBytes = sentence.attribute('name') ?? Buffer.alloc(0);
    const user = readClientText(nameBytes, this.#options.codePage);
    const password = sentence.attribute('password');
    const response = sentence.attribute('response');
    const method: LoginMethod = response === undefined ? 'plain' : 'challenge';
    const { gate, address } = this.#options;
    const locked = gate?.admit(address, user);
    if (locked !== undefined) return this.#refused(user, method, locked);
    const lockedInGroup = await gate?.check?.(address, user);
    if (lockedInGroup !== undefined) return this.#refused(user, method, lockedInGroup);
    let error: RosgateError | undefined;
    try {
      error = await this.#verify(user, nameBytes, password, response);
    } catch (err) {
      error = isRosgateError(err)
        ? err
        : new RosgateError(ErrorCode.Internal, 'cannot verify the login', { cause: err });
    }
    // A router that cannot be reached says nothing about the password.
    if (error === undefined || error.code === ErrorCode.LoginInvalid)
      gate?.record(address, user, error === undefined);
    else gate?.release?.(address, user);
    if (error !== undefined) return this.#refused(user, method, error);
    // The session records the login once it takes it (the client may have left meanwhile).
    return { isOk: true, user, method };
  }

  /** Undefined when the credentials are right; else why not. */
  async #verify(
    user: string,
    nameBytes: Buffer,
    password: Buffer | undefined,
    response: Buffer | undefined,
  ): Promise<RosgateError | undefined> {
    const { authenticator, isWanted } = this.#options;
    const secrets = authenticator.secretsFor(user, nameBytes);
    const challenge = this.#challenge;
    const relayed = this.#relayed;
    const relayRefusal = this.#relayRefusal;
    this.#challenge = undefined;
    this.#relayed = undefined;
    this.#relayRefusal = undefined;
    if (response !== undefined && relayed !== undefined) {
      // The router issued the challenge, so the router checks the answer.
      if (await relayed.check(nameBytes, response)) return undefined;
    } else {
      relayed?.close();
    }
    if (response !== undefined && challenge !== undefined) {
      if (secrets.some((secret) => verifyResponse(secret, challenge, response))) return undefined;
    }
    if (password === undefined) {
      if (response !== undefined && secrets.length === 0 && relayed === undefined)
        return relayRefusal ?? this.#legacyUnsupported(user);
      return invalidLogin();
    }
    return (await authenticator.verifyPassword(user, password, isWanted, nameBytes))
      ? undefined
      : invalidLogin();
  }

  #legacyUnsupported(user: string): RosgateError {
    if (!warnedLegacy.has(user) && warnedLegacy.size < MAX_WARNED) {
      warnedLegacy.add(user);
      this.#options.logger.warn(
        { user },
        'a client used the legacy challenge login, which needs a rosgate user with a plaintext secret',
      );
    }
    return new RosgateError(
      ErrorCode.LegacyLoginUnsupported,
      'legacy login needs a rosgate user with a plaintext secret: see users in config.yaml',
    );
  }

  #refused(user: string, method: LoginMethod, error: RosgateError): LoginOutcome {
    this.#options.observer?.loginFailed({
      ...this.#event(user, method),
      code: error.code,
      reason: error.message,
    });
    return { isOk: false, user, method, error };
  }

  #event(user: string, method: LoginMethod) {
    const { router, clientId, address } = this.#options;
    return { router, user, clientId, address, method };
  }
}

function invalidLogin(): RosgateError {
  return new RosgateError(ErrorCode.LoginInvalid, INVALID_LOGIN);
}
