/**
 * Startup errors of the ports rosgate listens on, reworded to name the
 * setting that chose the address (its key, and its variable where one sets
 * it) and what to do: `EADDRINUSE` alone does not say which of three ports.
 */

/** The settings behind one listening address. */
export interface ListenSettings {
  /** The port's key and variable: `routers[0].listen.port (PROXY_PORT)`. */
  readonly port: string;
  /** The interface address's key and variable. */
  readonly host: string;
}

/** The settings of router `index`'s plain or TLS listener. */
export function routerListenSettings(index: number, isTls: boolean): ListenSettings {
  const at = `routers[${index}].${isTls ? 'tls' : 'listen'}`;
  if (index !== 0) return { port: `${at}.port`, host: `${at}.host` };
  return isTls
    ? { port: `${at}.port (PROXY_TLS_PORT)`, host: `${at}.host` }
    : { port: `${at}.port (PROXY_PORT)`, host: `${at}.host (PROXY_HOST)` };
}

/** The admin port's settings. */
export const MONITORING_LISTEN: ListenSettings = Object.freeze({
  port: 'monitoring.port (MONITORING_PORT)',
  host: 'monitoring.host',
});

/**
 * `err` of a `listen()` reworded to name `settings` and the way out; its
 * `code` stays and it is the cause. Other errors are returned as they are.
 */
export function listenError(err: unknown, settings: ListenSettings): unknown {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  const where = `${e.address}:${e.port}`;
  let text: string;
  switch (e.code) {
    case 'EADDRINUSE':
      text = `${settings.port}: ${where} is already in use; stop what listens there, or choose another port`;
      break;
    case 'EACCES':
      text = `${settings.port}: this user may not listen on ${where} (a port below 1024 needs privileges); choose a port above 1023`;
      break;
    case 'EADDRNOTAVAIL':
      text = `${settings.host}: ${where} is not an address of this host; choose one it has (0.0.0.0: all)`;
      break;
    default:
      return err;
  }
  return Object.assign(new Error(`cannot listen (${e.code}): ${text}`, { cause: err }), {
    code: e.code,
  });
}
