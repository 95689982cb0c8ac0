/** Counters of one proxy listener (exported as metrics by the admin port). */
export interface ProxyStats {
  clientsConnected: number;
  clientsAccepted: number;
  clientsRefused: number;
  loginsOk: number;
  loginsFailed: number;
  commandsForwarded: number;
  refusedInFlight: number;
  slowClientDrops: number;
  framingErrors: number;
  /** TLS clients whose handshake failed (plaintext on the TLS port, no common cipher, ...). */
  tlsHandshakeErrors: number;
}

export function createProxyStats(): ProxyStats {
  return {
    clientsConnected: 0,
    clientsAccepted: 0,
    clientsRefused: 0,
    loginsOk: 0,
    loginsFailed: 0,
    commandsForwarded: 0,
    refusedInFlight: 0,
    slowClientDrops: 0,
    framingErrors: 0,
    tlsHandshakeErrors: 0,
  };
}
