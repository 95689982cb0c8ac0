import { Writable } from 'node:stream';
import { RouterOSAPI } from 'node-routeros';
import t from 'tap';
import { runCli, type CliIo, type Running } from '../src/cli.js';
import { startSimulator } from '../src/simulator/index.js';

function io(
  env: NodeJS.ProcessEnv = {},
): CliIo & { out: () => string; err: () => string; stops: (() => Promise<void>)[] } {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk: Buffer, _e, done) {
        append(chunk.toString());
        done();
      },
    });
  const stops: (() => Promise<void>)[] = [];
  return {
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    // The admin port on a free port, so tests never collide on 9728.
    env: { LOG_LEVEL: 'silent', MONITORING_PORT: '0', ...env },
    onStopSignal: (stop) => stops.push(stop),
    out: () => out,
    err: () => err,
    stops,
  };
}

async function identityThrough(port: number, user: string, password: string): Promise<unknown[]> {
  const api = new RouterOSAPI({ host: '127.0.0.1', port, user, password, timeout: 5 });
  await api.connect();
  try {
    return await api.write('/system/identity/print');
  } finally {
    await api.close();
  }
}

t.test('help prints the usage', async (t) => {
  const x = io();
  t.equal(await runCli(['--help'], x), 0);
  t.match(x.out(), /rosgate demo/);
});

t.test('hash-password prints a scrypt hash, and needs its argument', async (t) => {
  const x = io();
  t.equal(await runCli(['hash-password', 'pw'], x), 0);
  t.match(x.out(), /^scrypt\$/);
  const y = io();
  t.equal(await runCli(['hash-password'], y), 2);
  t.match(y.err(), /needs the password/);
});

t.test('start refuses without a router and says how to try rosgate', async (t) => {
  const x = io();
  t.equal(await runCli([], x), 1);
  t.match(x.err(), /no router configured/);
  t.match(x.err(), /npm run demo/);
});

t.test('start reports every config problem and exits non-zero', async (t) => {
  const dir = t.testdir({
    'bad.yaml': 'routers:\n  - host: r1\n    port: 70000\n    pasword: x\n',
  });
  const x = io();
  t.equal(await runCli(['--config', `${dir}/bad.yaml`], x), 1);
  t.match(x.err(), /routers\[0\]\.port must be an integer 1-65535/);
  t.match(x.err(), /routers\[0\]\.pasword/);
});

t.test(
  'start from the environment alone proxies to the router and stops on the signal',
  async (t) => {
    const sim = await startSimulator({ user: 'admin', password: 'pw', version: '7.17' });
    t.teardown(() => sim.close());
    const x = io({
      MIKROTIK_HOST: '127.0.0.1',
      MIKROTIK_PORT: String(sim.port),
      MIKROTIK_PASSWORD: 'pw',
      PROXY_HOST: '127.0.0.1',
      PROXY_PORT: '0',
      MAX_CONNECTIONS: '25',
      LOG_LEVEL: 'warn',
    });
    const running = (await runCli(['start'], x)) as Running;
    t.type(running.port, 'number');
    t.equal((await identityThrough(running.port as number, 'admin', 'pw')).length, 1);
    t.equal(x.stops.length, 1, 'a stop handler was registered');
    t.match(
      x.out(),
      /ROSGATE_CONFIG_POOL_ABOVE_ROUTER_SESSIONS/,
      'config warnings are logged with their code',
    );
    t.notMatch(x.out(), /"pw"/, 'the router password is not logged');
    await x.stops[0]?.();
  },
);

t.test('demo runs rosgate in front of the simulator and says how to connect', async (t) => {
  const x = io({ PROXY_PORT: '1' }); // --port wins over the environment
  const running = (await runCli(['demo', '--port', '0'], x)) as Running;
  t.teardown(() => running.stop());
  t.match(x.out(), /user admin, password admin/);
  t.equal((await identityThrough(running.port as number, 'admin', 'admin')).length, 1);
});

t.test('demo takes its port from PROXY_PORT and can imitate an older router', async (t) => {
  const x = io({ PROXY_PORT: '0', LOG_LEVEL: undefined });
  const running = (await runCli(['demo', '--router-version', '6.44'], x)) as Running;
  t.teardown(() => running.stop());
  t.match(x.out(), /a RouterOS 6\.44 simulator/);
  t.match(x.out(), /listening for RouterOS API clients/, 'logs at info by default');
  t.equal((await identityThrough(running.port as number, 'admin', 'admin')).length, 1);
});

t.test('simulate serves the RouterOS API', async (t) => {
  const x = io();
  const running = (await runCli(['simulate', '--port', '0', '--password', 'p'], x)) as Running;
  t.teardown(() => running.stop());
  t.equal((await identityThrough(running.port as number, 'admin', 'p')).length, 1);
});
