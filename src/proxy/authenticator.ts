import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCode, RosgateError, isRosgateError } from '../errors.js';
import type { UpstreamConnection } from '../upstream/upstream-connection.js';

/** Decides who may log in to rosgate (ROUTEROS-API §3). */
export interface Authenticator {
  /**
   * Check a plaintext password. Resolves false for wrong credentials;
   * rejects with a RosgateError when it cannot decide (router unreachable).
   */
  verifyPassword(name: string, password: Buffer): Promise<boolean>;
  /**
   * The user's plaintext secret, needed to check a legacy challenge
   * `=response=`; undefined when only a hash (or nothing) is known.
   */
  secretFor(name: string): Buffer | undefined;
}

/** One configured user as the proxy sees it. */
export interface KnownUser {
  name: string;
  verify(password: Buffer): Promise<boolean>;
  secret?: Buffer | undefined;
}

/** Users from rosgate's own configuration. */
export class UserListAuthenticator implements Authenticator {
  readonly #users: Map<string, KnownUser>;

  constructor(users: readonly KnownUser[]) {
    this.#users = new Map(users.map((u) => [u.name, u]));
  }

  async verifyPassword(name: string, password: Buffer): Promise<boolean> {
    const user = this.#users.get(name);
    return user === undefined ? false : user.verify(password);
  }

  secretFor(name: string): Buffer | undefined {
    return this.#users.get(name)?.secret;
  }
}

/** Options of {@link RouterAuthenticator}. */
export interface RouterAuthenticatorOptions {
  /** Opens a session to the router with the given credentials (not yet connected). */
  connect: (username: string, password: string) => UpstreamConnection;
  /** How long a verified login is remembered. @default 60000 */
  ttlMs: number;
  /** Remembered logins at most (oldest dropped first). @default 10000 */
  maxEntries?: number;
  /** Clock, injectable for tests. @default Date.now */
  now?: () => number;
}

interface Remembered {
  salt: Buffer;
  digest: Buffer;
  expiresAt: number;
}

/**
 * With no users configured, the router itself is the judge: rosgate logs in
 * to the router once with the client's credentials. A success is remembered
 * for `ttlMs` as a salted SHA-256 digest (never the password), so a billing
 * system that reconnects every few seconds does not flood the router's log
 * with logins (ROUTEROS-API §10.2).
 */
export class RouterAuthenticator implements Authenticator {
  readonly #options: RouterAuthenticatorOptions;
  readonly #remembered = new Map<string, Remembered>();
  /** Checks under way, by name and password digest: identical logins share one. */
  readonly #checking = new Map<string, Promise<boolean>>();
  /** Checks run one at a time, so logins never use more than one extra router session. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: RouterAuthenticatorOptions) {
    this.#options = options;
  }

  verifyPassword(name: string, password: Buffer): Promise<boolean> {
    const now = (this.#options.now ?? Date.now)();
    const known = this.#remembered.get(name);
    if (
      known !== undefined &&
      known.expiresAt > now &&
      timingSafeEqual(digest(known.salt, password), known.digest)
    ) {
      return Promise.resolve(true);
    }
    const key = `${name}\0${digest(CHECK_SALT, password).toString('hex')}`;
    let check = this.#checking.get(key);
    if (check === undefined) {
      check = this.#queue.then(() => this.#askRouter(name, password, now));
      this.#queue = check.catch(() => undefined);
      this.#checking.set(key, check);
      const forget = (): void => {
        this.#checking.delete(key);
      };
      check.then(forget, forget);
    }
    return check;
  }

  async #askRouter(name: string, password: Buffer, now: number): Promise<boolean> {
    const connection = this.#options.connect(name, password.toString('latin1'));
    try {
      await connection.connect();
    } catch (err) {
      if (isRosgateError(err, ErrorCode.UpstreamLogin)) return false;
      throw new RosgateError(
        ErrorCode.UpstreamClosed,
        'cannot verify the login: router unavailable',
        { cause: err },
      );
    } finally {
      connection.close();
    }
    this.#remember(name, password, now);
    return true;
  }

  /** The router never reveals secrets, so legacy challenge logins need configured users. */
  secretFor(): Buffer | undefined {
    return undefined;
  }

  #remember(name: string, password: Buffer, now: number): void {
    const salt = randomBytes(16);
    this.#remembered.delete(name);
    this.#remembered.set(name, {
      salt,
      digest: digest(salt, password),
      expiresAt: now + this.#options.ttlMs,
    });
    const max = this.#options.maxEntries ?? 10_000;
    if (this.#remembered.size > max) {
      this.#remembered.delete(this.#remembered.keys().next().value as string);
    }
  }
}

/** Salt for the in-flight map's keys: per process, never stored. */
const CHECK_SALT = randomBytes(16);

function digest(salt: Buffer, password: Buffer): Buffer {
  return createHash('sha256').update(salt).update(password).digest();
}
