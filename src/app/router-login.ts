/**
 * How rosgate logs in to a router: the connection it opens (TLS or not), the
 * bytes of its username and password, what to tell an operator the router
 * refuses them; and the one-off check of `rosgate config check --connect`.
 */
import type { RouterConfig } from '../config/index.js';
import { ErrorCode, type RosgateError } from '../errors.js';
import { encodeText } from '../protocol/index.js';
import { askVersion } from '../upstream/router-version.js';
import { UpstreamConnection } from '../upstream/upstream-connection.js';
import { upstreamTlsOptions } from './tls-options.js';

/** Opens (not yet connected) a session to `router` with these credentials. */
export type RouterConnector = (
  username: string | Buffer,
  password: string | Buffer,
) => UpstreamConnection;

/** Sessions to `router`; `maxWriteBufferBytes` is read by every session each time. */
export function routerConnector(
  router: RouterConfig,
  maxWriteBufferBytes: () => number,
): RouterConnector {
  const upstreamTls = upstreamTlsOptions(router);
  return (username, password) =>
    new UpstreamConnection({
      host: router.host,
      port: router.port,
      username,
      password,
      timeoutMs: router.timeoutMs,
      maxWriteBufferBytes,
      ...(upstreamTls === undefined ? {} : { tls: upstreamTls }),
    });
}

/** rosgate's own router account, as text and as the bytes the router holds. */
export interface ServiceAccount {
  readonly name: string;
  readonly nameBytes: Buffer;
  readonly password: Buffer;
}

/** The router's username and password in its `loginEncoding` (docs/routeros-api.md §7). */
export function loginBytes(router: RouterConfig): ServiceAccount {
  // Config validation refused text the encoding cannot write.
  const encode = (text: string): Buffer => encodeText(text, router.loginEncoding) as Buffer;
  return {
    name: router.username,
    nameBytes: encode(router.username),
    password: encode(router.password),
  };
}

/**
 * Why a router may refuse rosgate's login though the password is right:
 * text beyond ASCII sent as UTF-8 to a router that holds it in a code page.
 */
export function loginEncodingHint(router: RouterConfig): string | undefined {
  const text = router.username + router.password;
  const isAscii = Buffer.byteLength(text, 'utf8') === text.length;
  if (router.loginEncoding !== 'utf-8' || isAscii) return undefined;
  return "the username or password has characters beyond ASCII and goes as UTF-8; one set in Winbox is held in the PC's code page: set loginEncoding (MIKROTIK_LOGIN_ENCODING) to it, e.g. windows-1251";
}

/** What one login to a router showed: accepted (and its version), or why not and what may help. */
export type RouterLoginCheck =
  | { readonly isOk: true; readonly version: string | undefined }
  | {
      readonly isOk: false;
      readonly code: string;
      readonly reason: string;
      readonly hint?: string;
    };

/**
 * Logs in to `router` once with rosgate's own account, as a pool session
 * would, asks its RouterOS version, and closes the session: the check an
 * operator runs before the first start. Never rejects.
 */
export async function checkRouterLogin(router: RouterConfig): Promise<RouterLoginCheck> {
  const account = loginBytes(router);
  const connection = routerConnector(router, () => router.pool.maxWriteBufferBytes)(
    account.nameBytes,
    account.password,
  );
  try {
    await connection.connect();
    return { isOk: true, version: await askVersion(connection) };
  } catch (err) {
    // connect() and askVersion() reject with a RosgateError only.
    const { code, message: reason } = err as RosgateError;
    const hint = code === ErrorCode.UpstreamLogin ? loginEncodingHint(router) : undefined;
    return { isOk: false, code, reason, ...(hint === undefined ? {} : { hint }) };
  } finally {
    connection.close();
  }
}
