import t from 'tap';
import { MONITORING_LISTEN, listenError, routerListenSettings } from '../../src/config/index.js';

/** An error as net's listen() gives it. */
const failed = (code: string) =>
  Object.assign(new Error(`listen ${code} 127.0.0.1:80`), { code, address: '127.0.0.1', port: 80 });

t.test('a listen error names the setting behind the address and what to do', async (t) => {
  const settings = routerListenSettings(0, false);
  t.same(settings, {
    port: 'routers[0].listen.port (PROXY_PORT)',
    host: 'routers[0].listen.host (PROXY_HOST)',
  });
  t.same(routerListenSettings(0, true), {
    port: 'routers[0].tls.port (PROXY_TLS_PORT)',
    host: 'routers[0].tls.host',
  });
  t.same(routerListenSettings(2, true), {
    port: 'routers[2].tls.port',
    host: 'routers[2].tls.host',
  });
  const cases: [string, string][] = [
    [
      'EADDRINUSE',
      'cannot listen (EADDRINUSE): monitoring.port (MONITORING_PORT): 127.0.0.1:80 is already in use; stop what listens there, or choose another port',
    ],
    [
      'EACCES',
      'cannot listen (EACCES): monitoring.port (MONITORING_PORT): this user may not listen on 127.0.0.1:80 (a port below 1024 needs privileges); choose a port above 1023',
    ],
    [
      'EADDRNOTAVAIL',
      'cannot listen (EADDRNOTAVAIL): monitoring.host: 127.0.0.1:80 is not an address of this host; choose one it has (0.0.0.0: all)',
    ],
  ];
  for (const [code, message] of cases) {
    const original = failed(code);
    const err = listenError(original, MONITORING_LISTEN) as NodeJS.ErrnoException;
    t.equal(err.message, message, code);
    t.equal(err.code, code, 'the code stays');
    t.equal(err.cause, original, 'the original is the cause');
  }
  const other = failed('EMFILE');
  t.equal(listenError(other, MONITORING_LISTEN), other, 'another error is left as it is');
});
