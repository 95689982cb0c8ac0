import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCode, RosgateError, isRosgateError } from '../errors.js';
import type { UpstreamConnection } from '../upstream/upstream-connection.js';
import {
  DEFAULT_CODE_PAGE,
  clientTextBytes,
  textSpellings,
  type CodePage,
} from '../protocol/index.js';
import { monotonicNow } from '../clock.js';

/** Decides who may log in to rosgate (docs/routeros-api.md §3). */
export interface Authenticator {
  /**
   * Check a plaintext password. Resolves false for wrong credentials;
   * rejects with a RosgateError when it cannot decide (router unreachable).
   * `isWanted` tells whether the client still waits: a check nobody waits
   * for any more is dropped before it reaches the router. `name` is the
   * client's name as text (readClientText); `nameBytes` the bytes it
   * sent, which a check the router makes uses. @default nameBytes: `name` as UTF-8
   */
  verifyPassword(
    name: string,
    password: Buffer,
    isWanted?: () => boolean,
    nameBytes?: Buffer,
  ): Promise<boolean>;
  /**
   * The user's plaintext secret as each byte spelling a legacy challenge
   * `=response=` may be computed over; empty when only a hash (or nothing)
   * is known. `nameBytes`: the name as the client sent it.
   */
  secretsFor(name: string, nameBytes?: Buffer): readonly Buffer[];
  /**
   * A challenge to hand a legacy client whose answer the router will check
   * (routers before 6.45.1); undefined when rosgate must issue its own.
   */
  openLegacyChallenge?(): Promise<LegacyChallenge | undefined>;
}

/** A router's login challenge relayed to a client (docs/routeros-api.md §3.2). */
export interface LegacyChallenge {
  /** The challenge, 32 hex digits. */
  readonly challengeHex: string;
  /** Let the router check the client's `=response=`; closes the relay. */
  check(name: Buffer, response: Buffer): Promise<boolean>;
  close(): void;
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
  /**
   * Whose check an unknown name runs, its answer dropped: a user checked by
   * a hash if there is one (the slow kind), so that how long a refusal
   * takes does not tell which names are configured.
   */
  readonly #standIn: KnownUser | undefined;
  /** The code page a password that is not UTF-8 is read in (`limits.clientCodePage`). */
  readonly #codePage: CodePage;

  constructor(users: readonly KnownUser[], codePage: CodePage = DEFAULT_CODE_PAGE) {
    this.#users = new Map(users.map((u) => [u.name, u]));
    this.#standIn = users.find((u) => u.secret === undefined) ?? users[0];
    this.#codePage = codePage;
  }

  async verifyPassword(name: string, password: Buffer): Promise<boolean> {
    const user = this.#users.get(name);
    // Configured text against the client's password as text, as names are.
    const given = clientTextBytes(password, this.#codePage);
    const isOk = user !== undefined && (await user.verify(given));
    // Every refusal costs one slow check: an unknown name's and a plaintext
    // user's (checked in microseconds) run the stand-in's, a hashed user's
    // was its own. A success tells nothing a refusal would hide.
    const isHashed = user !== undefined && user.secret === undefined;
    if (!isOk && !isHashed) await this.#standIn?.verify(given);
    return isOk;
  }

  secretsFor(name: string): readonly Buffer[] {
    const secret = this.#users.get(name)?.secret;
    return secret === undefined ? [] : textSpellings(secret.toString('utf8'), this.#codePage);
  }
}

/** Options of {@link RouterAuthenticator}. */
export interface RouterAuthenticatorOptions {
  /**
   * Opens a session to the router with the given credentials (not yet
   * connected): a client's name and password go as the bytes it sent.
   */
  connect: (username: string | Buffer, password: string | Buffer) => UpstreamConnection;
  /** How long a verified login is remembered. @default 60000 */
  ttlMs: number;
  /** How long a refused password is remembered, so retries of it skip the router. @default 5000 */
  failureTtlMs?: number;
  /** Logins checked against the router at once; the rest wait their turn. @default 4 */
  maxConcurrentChecks?: number;
  /** Remembered logins (and failures) at most, oldest dropped first. @default 10000 */
  maxEntries?: number;
  /** Clock, injectable for tests. @default monotonicNow (src/clock.ts: steps of the wall clock do not move it) */
  now?: () => number;
  /**
   * The account rosgate itself logs in with: its password is known, so it
   * is checked without the router and may use the legacy challenge login.
   * `name` is its name as text; `nameBytes` and `password` what the router
   * holds (the router's `loginEncoding`). A client logs in as it with that
   * name as text or with those bytes, and with that password's bytes, as
   * the router would demand. @default nameBytes: none; a string password: its UTF-8
   */
  serviceAccount?: { name: string; nameBytes?: Buffer; password: string | Buffer } | undefined;
  /** How to relay legacy challenges to a router older than 6.45.1. @default no relay */
  relay?: LegacyRelay | undefined;
  /**
   * Relayed challenges under way at once: each holds a router session from
   * the bare `/login` until the client answers or leaves, so clients that
   * never log in must not use up the router's sessions. Past it a client
   * gets rosgate's own challenge (enough for the service account) and a
   * router user's answer to it is refused, saying why. @default 4
   */
  maxRelayedChallenges?: number;
}

/** What relaying a legacy login needs from the router. */
export interface LegacyRelay {
  /** The router's version as `/system/resource` reports it (`6.44.6 (stable)`). */
  routerVersion(): Promise<string | undefined>;
  /** Opens a fresh connection and fetches the router's challenge. */
  open(): Promise<LegacyChallenge>;
}

interface Remembered {
  salt: Buffer;
  digest: Buffer;
  expiresAt: number;
}

/** A check against the router, shared by identical logins. */
interface Check {
  readonly name: string;
  readonly password: Buffer;
  readonly promise: Promise<boolean>;
  /** Callers waiting for this check; it runs only if one still wants it. */
  readonly interested: (() => boolean)[];
  start(): void;
  abandon(): void;
}

/**
 * The check was dropped: every client that asked for it has gone. Not a
 * wrong password, so it never counts towards a lockout.
 */
const ABANDONED = new RosgateError(
  ErrorCode.Interrupted,
  'the client left before its login was checked',
);

/**
 * With no users configured, the router itself is the judge: rosgate logs in
 * to the router once with the client's credentials. A success is remembered
 * for `ttlMs` and a failure for `failureTtlMs`, each as a salted SHA-256
 * digest (never the password), so a billing system that reconnects every few
 * seconds does not flood the router's log with logins (docs/routeros-api.md §10 item 2).
 *
 * Checks run a few at a time (`maxConcurrentChecks`), identical ones share
 * one router login, and a check whose clients have all gone is dropped.
 */
export class RouterAuthenticator implements Authenticator {
  #options: RouterAuthenticatorOptions;
  readonly #now: () => number;
  readonly #accepted = new Map<string, Remembered>();
  readonly #refused = new Map<string, Remembered>();
  /** Checks waiting or running, by name and password digest. */
  readonly #checks = new Map<string, Check>();
  readonly #waiting: Check[] = [];
  #running = 0;

  constructor(options: RouterAuthenticatorOptions) {
    this.#options = options;
    this.#now = options.now ?? monotonicNow;
  }

  /**
   * New login-check settings (a live reload), in force at once: a shorter
   * memory shortens what is remembered already, a larger cap starts
   * waiting checks.
   */
  reconfigure(
    options: Pick<
      RouterAuthenticatorOptions,
      'ttlMs' | 'failureTtlMs' | 'maxConcurrentChecks' | 'maxRelayedChallenges'
    >,
  ): void {
    this.#options = { ...this.#options, ...options };
    const now = this.#now();
    shorten(this.#accepted, now + this.#options.ttlMs);
    shorten(this.#refused, now + (this.#options.failureTtlMs ?? 5000));
    this.#next();
  }

  /** Checks waiting for a turn and running, for tests and health. */
  get checks(): { waiting: number; running: number } {
    return { waiting: this.#waiting.length, running: this.#running };
  }

  verifyPassword(
    name: string,
    password: Buffer,
    isWanted: () => boolean = () => true,
    nameBytes: Buffer = Buffer.from(name, 'utf8'),
  ) {
    const service = this.#serviceSecret(name, nameBytes);
    if (service !== undefined) return Promise.resolve(sameBytes(service, password));
    // The router knows names as bytes: two spellings of one text may be two
    // of its users, so what it said is remembered by the bytes.
    const routerName = nameBytes.toString('latin1');
    const now = this.#now();
    if (matches(this.#accepted.get(routerName), password, now)) return Promise.resolve(true);
    if (matches(this.#refused.get(routerName), password, now)) return Promise.resolve(false);
    const key = `${routerName}\0${digest(CHECK_SALT, password).toString('hex')}`;
    const known = this.#checks.get(key);
    if (known !== undefined) {
      known.interested.push(isWanted);
      return known.promise;
    }
    const check = this.#newCheck(key, routerName, password);
    check.interested.push(isWanted);
    this.#checks.set(key, check);
    this.#waiting.push(check);
    this.#next();
    return check.promise;
  }

  #newCheck(key: string, name: string, password: Buffer): Check {
    let resolve!: (isOk: boolean) => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<boolean>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const settle = (): void => {
      this.#checks.delete(key);
    };
    return {
      name,
      password,
      promise,
      interested: [],
      start: () => {
        this.#running++;
        // The check leaves the map before its callers hear the result: a
        // retry made at once must ask again (or hit the memory), not join
        // a check that has already ended.
        const finish = (): void => {
          this.#running--;
          settle();
          this.#next();
        };
        this.#askRouter(name, password).then(
          (isOk) => {
            finish();
            resolve(isOk);
          },
          (err: unknown) => {
            finish();
            reject(err);
          },
        );
      },
      abandon: () => {
        settle();
        reject(ABANDONED);
      },
    };
  }

  /** Start waiting checks while there is room, skipping those nobody waits for. */
  #next(): void {
    const max = this.#options.maxConcurrentChecks ?? 4;
    while (this.#running < max && this.#waiting.length > 0) {
      const check = this.#waiting.shift() as Check;
      if (check.interested.some((isWanted) => isWanted())) check.start();
      else check.abandon();
    }
  }

  async #askRouter(name: string, password: Buffer): Promise<boolean> {
    // The client's bytes, as it sent them: no decoding on the way (§7).
    const connection = this.#options.connect(Buffer.from(name, 'latin1'), password);
    try {
      await connection.connect();
    } catch (err) {
      if (isRosgateError(err, ErrorCode.UpstreamLogin)) {
        this.#remember(this.#refused, name, password, this.#options.failureTtlMs ?? 5000);
        return false;
      }
      throw new RosgateError(
        ErrorCode.UpstreamClosed,
        'cannot verify the login: router unavailable',
        { cause: err },
      );
    } finally {
      connection.close();
    }
    this.#refused.delete(name);
    this.#remember(this.#accepted, name, password, this.#options.ttlMs);
    return true;
  }

  /**
   * The router never reveals secrets: only the service account's is known,
   * so other legacy challenge logins need a relay or configured users.
   */
  secretsFor(name: string, nameBytes?: Buffer): readonly Buffer[] {
    const secret = this.#serviceSecret(name, nameBytes);
    return secret === undefined ? [] : [secret];
  }

  #serviceSecret(name: string, nameBytes: Buffer | undefined): Buffer | undefined {
    const account = this.#options.serviceAccount;
    if (account === undefined) return undefined;
    // Configured text against the client's name as text (readClientText),
    // or the bytes the router knows it by.
    const isAccount =
      account.name === name ||
      (nameBytes !== undefined && account.nameBytes?.equals(nameBytes) === true);
    if (!isAccount) return undefined;
    return typeof account.password === 'string'
      ? Buffer.from(account.password, 'utf8')
      : account.password;
  }

  #relayVersion: Promise<boolean> | undefined;
  /** Relayed challenges opened (or opening) and not yet answered or dropped. */
  #relaysOpen = 0;

  /** Relayed challenges under way now, for tests and health. */
  get relayedChallenges(): number {
    return this.#relaysOpen;
  }

  /**
   * The router's challenge, relayed; undefined when the router no longer
   * checks answers. Rejects with `ROSGATE_CLIENT_LIMIT` while
   * `maxRelayedChallenges` are under way.
   */
  async openLegacyChallenge(): Promise<LegacyChallenge | undefined> {
    const relay = this.#options.relay;
    if (relay === undefined) return undefined;
    // The version is asked once; a failed ask is asked again next time.
    this.#relayVersion ??= relay.routerVersion().then(isBeforePlainOnlyLogin, () => {
      this.#relayVersion = undefined;
      return false;
    });
    if (!(await this.#relayVersion)) return undefined;
    const max = this.#options.maxRelayedChallenges ?? 4;
    if (this.#relaysOpen >= max) {
      throw new RosgateError(
        ErrorCode.ClientLimit,
        `too many legacy logins under way (limit ${max}): try again, or log in with =password=`,
        { details: { maxRelayedChallenges: max } },
      );
    }
    // Counted from before the connection opens: slow opens count too.
    this.#relaysOpen++;
    let isOpen = true;
    const release = (): void => {
      if (isOpen) this.#relaysOpen--;
      isOpen = false;
    };
    let challenge: LegacyChallenge;
    try {
      challenge = await relay.open();
    } catch (err) {
      release();
      throw err;
    }
    return {
      challengeHex: challenge.challengeHex,
      check: async (name, response) => {
        try {
          return await challenge.check(name, response);
        } finally {
          release();
        }
      },
      close: () => {
        release();
        challenge.close();
      },
    };
  }

  #remember(into: Map<string, Remembered>, name: string, password: Buffer, ttlMs: number): void {
    if (ttlMs <= 0) return;
    const salt = randomBytes(16);
    into.delete(name);
    into.set(name, { salt, digest: digest(salt, password), expiresAt: this.#now() + ttlMs });
    const max = this.#options.maxEntries ?? 10_000;
    if (into.size > max) into.delete(into.keys().next().value as string);
  }
}

/** True for a RouterOS version that still checks challenge responses: before 6.45.1 (§3.2). */
export function isBeforePlainOnlyLogin(version: string | undefined): boolean {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(version ?? '');
  if (m === null) return false;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  if (major !== 6) return major < 6;
  if (minor !== 45) return minor < 45;
  return patch < 1;
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return timingSafeEqual(digest(CHECK_SALT, a), digest(CHECK_SALT, b));
}

/** Remembered entries expire by `latest` at the latest. */
function shorten(remembered: Map<string, Remembered>, latest: number): void {
  for (const entry of remembered.values()) entry.expiresAt = Math.min(entry.expiresAt, latest);
}

function matches(known: Remembered | undefined, password: Buffer, now: number): boolean {
  return (
    known !== undefined &&
    known.expiresAt > now &&
    timingSafeEqual(digest(known.salt, password), known.digest)
  );
}

/** Salt for the in-flight map's keys: per process, never stored. */
const CHECK_SALT = randomBytes(16);

function digest(salt: Buffer, password: Buffer): Buffer {
  return createHash('sha256').update(salt).update(password).digest();
}
