import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TlsOptions } from 'node:tls';
import t from 'tap';
import { createApp, type RouterRuntime } from '../../src/app.js';
import { validateConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text, type RawClient } from '../fixtures/raw-client.js';
import { TEST_PEM, TEST_PEM_FILES, startTlsTerminator } from '../fixtures/tls-peers.js';

/** The parts of tap's Test the helper needs. */
interface TeardownHost {
  teardown(fn: () => unknown): void;
}

/** A router's api-ssl service with a certificate: the simulator behind a TLS front. */
const CERT_SERVICE: TlsOptions = { cert: TEST_PEM.cert, key: TEST_PEM.key };

/** A router's api-ssl service with `certificate=none`: anonymous DH only. */
const ADH_SERVICE: TlsOptions = {
  ciphers: 'ADH-AES256-GCM-SHA384:ADH-AES128-GCM-SHA256:@SECLEVEL=0',
  maxVersion: 'TLSv1.2',
  dhparam: 'auto',
};

/**
 * The simulator behind a TLS terminator, and rosgate in front of that
 * connecting with `router` settings (upstreamTls, ...). Torn down with `t`.
 */
async function startBehindTls(
  t: TeardownHost,
  service: TlsOptions,
  router: Record<string, unknown>,
  config: Record<string, unknown> = {},
) {
  const sim: Simulator = await startSimulator({ user: 'admin', password: 'secret' });
  const terminator = await startTlsTerminator(sim.port, service);
  // The audit trail in a folder of the test's own, never the checkout's logs/audit.
  const auditDir = mkdtempSync(join(tmpdir(), 'rosgate-audit-'));
  const { config: loaded } = validateConfig(
    {
      routers: [
        {
          host: '127.0.0.1',
          port: terminator.port,
          username: 'admin',
          password: 'secret',
          listen: { host: '127.0.0.1', port: 0 },
          ...router,
        },
      ],
      monitoring: { host: '127.0.0.1', port: 0 },
      audit: { dir: auditDir },
      ...config,
    },
    {},
    TEST_PEM_FILES,
  );
  let logged = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logged += chunk.toString();
      done();
    },
  });
  const app = createApp(loaded, createLogger('debug', sink));
  await app.start();
  t.teardown(async () => {
    await app.stop(0);
    await terminator.close();
    await sim.close();
    rmSync(auditDir, { recursive: true, force: true });
  });
  const runtime = app.routers[0] as RouterRuntime;
  const client = (): Promise<RawClient> => openRaw(t, runtime.port);
  return { sim, terminator, runtime, client, logText: () => logged };
}

t.test('upstreamTls insecure reaches a router with a self-signed certificate', async (t) => {
  const s = await startBehindTls(t, CERT_SERVICE, { upstreamTls: 'insecure' });
  const c = await s.client();
  t.same(text(await c.login('admin', 'secret')), ['!done'], 'the login is checked over TLS');
  const reply = await c.call(['/system/identity/print']);
  t.equal(String(reply.at(-1)), '!done');
  t.ok(s.terminator.ciphers.length > 0, 'every session went through the TLS front');
  t.equal(s.terminator.ciphers.length, s.sim.counters.connectionsAccepted);
  t.notOk(
    s.terminator.ciphers.some((name) => name.startsWith('ADH')),
    'a certificate suite was used',
  );
});

t.test(
  'upstreamTls verify accepts a router whose certificate the CA file vouches for',
  async (t) => {
    const s = await startBehindTls(t, CERT_SERVICE, {
      upstreamTls: 'verify',
      upstreamCaFile: 'cert.pem',
    });
    const c = await s.client();
    t.same(text(await c.login('admin', 'secret')), ['!done']);
    await eventually(() => s.runtime.pool.stats.ready === 1, 'the pool to open its session');
    t.equal(s.runtime.pool.stats.failedConnects, 0);
  },
);

t.test('upstreamTls verify refuses a router signed by another CA, and says why', async (t) => {
  const s = await startBehindTls(
    t,
    CERT_SERVICE,
    { upstreamTls: 'verify', upstreamCaFile: 'other-cert.pem', pool: { acquireTimeoutMs: 50 } },
    { users: [{ name: 'billing', password: 'pw' }] },
  );
  await eventually(() => s.runtime.pool.lastError !== undefined, 'the pool to fail');
  const reason = /certificate/;
  t.match(s.runtime.pool.lastError?.message, reason);
  t.match(s.logText(), /"msg":"router unreachable; retrying"/);
  t.match(s.logText(), /"err":"router connection error: [^"]*certificate/);
  t.equal(s.sim.counters.loginsOk, 0, 'nothing reached the router');

  const c = await s.client();
  t.same(text(await c.login('billing', 'pw')), ['!done']);
  const [trap, done] = text(await c.call(['/system/identity/print', '.tag=1']));
  t.match(trap, /^!trap \.tag=1 =message=no router session available in time: .*certificate.*$/);
  t.equal(done, '!done .tag=1');
});

t.test('upstreamTls verify without a CA file uses the system CAs', async (t) => {
  const s = await startBehindTls(t, CERT_SERVICE, { upstreamTls: 'verify' });
  await eventually(() => s.runtime.pool.lastError !== undefined, 'the pool to fail');
  t.match(s.runtime.pool.lastError?.message, /self-signed certificate/);
  t.equal(s.sim.counters.loginsOk, 0);
});

t.test('upstreamTls anonymous reaches a router with certificate=none', async (t) => {
  const s = await startBehindTls(t, ADH_SERVICE, { upstreamTls: 'anonymous' });
  const c = await s.client();
  t.same(text(await c.login('admin', 'secret')), ['!done']);
  const reply = await c.call(['/system/identity/print']);
  t.equal(String(reply.at(-1)), '!done');
  t.ok(s.terminator.ciphers.length > 0);
  t.ok(
    s.terminator.ciphers.every((name) => name.startsWith('ADH-')),
    'only anonymous suites were used',
  );
});

t.test('plain TCP or a certificate mode cannot reach an ADH-only router', async (t) => {
  for (const upstreamTls of ['off', 'insecure']) {
    const s = await startBehindTls(t, ADH_SERVICE, { upstreamTls });
    await eventually(
      () => s.runtime.pool.lastError !== undefined,
      `${upstreamTls}: the pool to fail`,
    );
    t.ok(s.terminator.handshakeErrors > 0, `${upstreamTls}: the router refused the handshake`);
    t.equal(s.sim.counters.loginsOk, 0, `${upstreamTls}: nothing reached the router`);
  }
});
