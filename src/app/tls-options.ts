/**
 * How rosgate's TLS sides are set up: the api-ssl listener clients reach,
 * and the sessions rosgate opens to the router.
 */
import tls from 'node:tls';
import type { RouterConfig, TlsListenConfig } from '../config/index.js';

/**
 * The anonymous Diffie-Hellman suites a RouterOS api-ssl service with
 * `certificate=none` speaks (docs/routeros-api.md §8). They exist only up to
 * TLS 1.2, and OpenSSL 3 refuses them below `@SECLEVEL=0`.
 */
export const ANONYMOUS_DH_CIPHERS =
  'ADH-AES256-GCM-SHA384:ADH-AES128-GCM-SHA256:ADH-AES256-SHA256:ADH-AES128-SHA256:@SECLEVEL=0';

/** How the listener's TLS server is set up from the router's `tls` settings. */
export function listenerTlsOptions(config: TlsListenConfig): tls.TlsOptions {
  const options: tls.TlsOptions = { minVersion: config.minVersion };
  const hasCertificate = config.cert !== undefined && config.key !== undefined;
  if (hasCertificate) {
    options.cert = config.cert;
    options.key = config.key;
  }
  if (config.allowAnonymous) {
    // The anonymous key exchange needs DH parameters; 'auto' picks well-known ones.
    options.dhparam = 'auto';
    if (hasCertificate) {
      // Node's defaults end with `!aNULL`, which would delete the anonymous
      // suites for good; `-aNULL` drops the others and lets ours back in.
      options.ciphers = `${tls.DEFAULT_CIPHERS.replace('!aNULL', '-aNULL')}:${ANONYMOUS_DH_CIPHERS}`;
    } else {
      options.ciphers = ANONYMOUS_DH_CIPHERS;
      // Without a certificate TLS 1.3 cannot succeed: make clients that
      // offer it settle on 1.2.
      options.maxVersion = 'TLSv1.2';
    }
  }
  return options;
}

/** How rosgate's sessions to the router use TLS; undefined is plain TCP. */
export function upstreamTlsOptions(router: RouterConfig): tls.ConnectionOptions | undefined {
  switch (router.upstreamTls) {
    case 'off':
      return undefined;
    case 'verify':
      return router.upstreamCa === undefined ? {} : { ca: router.upstreamCa };
    case 'insecure':
      return { rejectUnauthorized: false };
    case 'anonymous':
      // An anonymous suite has no certificate to check.
      return { rejectUnauthorized: false, ciphers: ANONYMOUS_DH_CIPHERS, maxVersion: 'TLSv1.2' };
  }
}
