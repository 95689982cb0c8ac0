/**
 * The admin port's bearer token: checked in constant time, and turned into
 * a session cookie for the dashboard (a browser cannot send the header when
 * it opens a page).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The dashboard's session cookie. */
export const SESSION_COOKIE = 'rosgate_admin';

/** How long a dashboard session lasts. */
const SESSION_MAX_AGE_SECONDS = 12 * 60 * 60;

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Equal digests of equal length: no early exit that would time the comparison. */
function isSame(candidate: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(candidate), expected);
}

export class AdminAuth {
  readonly #token: Buffer | undefined;
  readonly #session: string | undefined;

  /** `token` undefined: nothing that needs a token is served. */
  constructor(token: string | undefined) {
    this.#token = token === undefined ? undefined : digest(token);
    // The cookie carries a value derived from the token, never the token itself.
    this.#session =
      token === undefined
        ? undefined
        : createHmac('sha256', token).update('rosgate dashboard session').digest('base64url');
  }

  get isConfigured(): boolean {
    return this.#token !== undefined;
  }

  /** True for the right token. */
  isToken(candidate: string): boolean {
    return this.#token !== undefined && isSame(candidate, this.#token);
  }

  /** True for `Authorization: Bearer <the token>`. */
  isAuthorization(header: string | undefined): boolean {
    const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
    return match !== null && this.isToken(match[1] as string);
  }

  /** True when the `Cookie` header carries a valid dashboard session. */
  isSessionCookie(header: string | undefined): boolean {
    if (this.#session === undefined || header === undefined) return false;
    const expected = digest(this.#session);
    return header
      .split(';')
      .map((part) => part.trim())
      .some(
        (part) =>
          part.startsWith(`${SESSION_COOKIE}=`) &&
          isSame(part.slice(SESSION_COOKIE.length + 1), expected),
      );
  }

  /**
   * The `Set-Cookie` value of a dashboard session: HttpOnly (page scripts
   * cannot read it), SameSite=Strict (other sites cannot use it), scoped to
   * /monitoring. Only valid with a token configured.
   */
  sessionCookie(): string {
    return `${SESSION_COOKIE}=${this.#session as string}; Path=/monitoring; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MAX_AGE_SECONDS}`;
  }
}

/**
 * True for a peer on this host (127.0.0.0/8, ::1, or either mapped into
 * IPv6): with no token configured, it may read the dashboard.
 */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return v4.startsWith('127.') || address === '::1';
}
