/**
 * `rosgate config check --connect`: after the configuration's checks, one
 * login to each router with rosgate's own account, over real TCP to the
 * simulator; what the router said, and what may help, for each.
 */
import net from 'node:net';
import t from 'tap';
import { runCli } from '../src/cli.js';
import { eventually } from './fixtures/eventually.js';
import { fakeRouter, tagOf } from './fixtures/fake-router.js';
import { startTestSimulator } from './fixtures/stack.js';
import { PAROL, winboxRouter } from './fixtures/winbox-router.js';
import { cliIo } from './fixtures/wire-cli.js';

const CHECK = ['config', 'check', '--connect'];

t.test('a router that takes the login is ok, exit 0', async (t) => {
  const sim = await startTestSimulator(t, { user: 'api', password: 'secret' });
  const io = cliIo({
    MIKROTIK_HOST: '127.0.0.1',
    MIKROTIK_PORT: String(sim.port),
    MIKROTIK_USERNAME: 'api',
    MIKROTIK_PASSWORD: 'secret',
  });
  t.equal(await runCli(CHECK, io), 0);
  t.equal(
    io.out(),
    'ok: the configuration is valid\n' +
      `ok: router default (127.0.0.1:${sim.port}, user api) accepted rosgate's login (RouterOS ${sim.version} (stable))\n`,
  );
  t.equal(sim.counters.loginsOk, 1, 'one login');
  await eventually(() => sim.counters.sessionsNow === 0, 'its session to close');
  t.equal(sim.counters.sessionsNow, 0, 'and its session closed');
});

t.test('each router is tried; a refusal and an unreachable one fail the check', async (t) => {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret' });
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as net.AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const dir = t.testdir({
    'rosgate.yaml': [
      'routers:',
      `  - { name: good, host: 127.0.0.1, port: ${sim.port}, password: secret, listen: { port: 0 } }`,
      `  - { name: wrong, host: 127.0.0.1, port: ${sim.port}, password: nope, listen: { port: 0 } }`,
      `  - { name: gone, host: 127.0.0.1, port: ${closedPort}, password: secret, listen: { port: 0 } }`,
      '',
    ].join('\n'),
  });
  const io = cliIo();
  t.equal(await runCli([...CHECK, '--config', `${dir}/rosgate.yaml`], io), 1);
  const lines = io.out().split('\n');
  t.match(lines, [
    /^warning ROSGATE_CONFIG_INLINE_PASSWORD: routers\[0\]/,
    /^warning ROSGATE_CONFIG_INLINE_PASSWORD: routers\[1\]/,
    /^warning ROSGATE_CONFIG_INLINE_PASSWORD: routers\[2\]/,
    'ok: the configuration is valid',
    `ok: router good (127.0.0.1:${sim.port}, user admin) accepted rosgate's login (RouterOS ${sim.version} (stable))`,
    `error ROSGATE_UPSTREAM_LOGIN: router wrong (127.0.0.1:${sim.port}, user admin): router refused rosgate's login: invalid user name or password (6)`,
    new RegExp(
      `^error ROSGATE_UPSTREAM_CLOSED: router gone \\(127\\.0\\.0\\.1:${closedPort}, user admin\\): router connection error: connect ECONNREFUSED`,
    ),
    '',
  ]);
  t.notMatch(io.out(), /nope/, 'the password is never shown');
});

t.test('a password beyond ASCII the router refuses gets the encoding hint', async (t) => {
  const sim = await winboxRouter(t);
  const env = {
    MIKROTIK_HOST: '127.0.0.1',
    MIKROTIK_PORT: String(sim.port),
    MIKROTIK_USERNAME: 'operator',
    MIKROTIK_PASSWORD: PAROL,
  };
  const utf8 = cliIo(env);
  t.equal(await runCli(CHECK, utf8), 1);
  t.match(
    utf8.out(),
    /\nerror ROSGATE_UPSTREAM_LOGIN: .*\nhint: .*set loginEncoding \(MIKROTIK_LOGIN_ENCODING\)/,
  );
  const cp1251 = cliIo({ ...env, MIKROTIK_LOGIN_ENCODING: 'windows-1251' });
  t.equal(await runCli(CHECK, cp1251), 0);
  t.match(cp1251.out(), /ok: router default .* accepted rosgate's login \(RouterOS .*\)\n$/);
});

t.test('with no router but the bundled simulator, there is no router to try', async (t) => {
  const io = cliIo();
  t.equal(await runCli([...CHECK, '--simulate-if-unconfigured'], io), 0);
  t.equal(
    io.out(),
    'note: no router configured: rosgate would front the bundled simulator\n' +
      'ok: the configuration is valid\n',
  );
});

t.test(
  'an account that may not read /system/resource still passes, its version not told',
  async (t) => {
    const port = await fakeRouter(t, (s, reply) => {
      if (s.command === '/login') reply('!done', tagOf(s));
      else {
        reply('!trap', '=message=not enough permissions (9)', tagOf(s));
        reply('!done', tagOf(s));
      }
    });
    const io = cliIo({
      MIKROTIK_HOST: '127.0.0.1',
      MIKROTIK_PORT: String(port),
      MIKROTIK_PASSWORD: 'pw',
    });
    t.equal(await runCli(CHECK, io), 0);
    t.match(io.out(), /accepted rosgate's login \(version not told\)\n$/);
  },
);

t.test(
  'a router that stops answering, or drops the session mid-check, fails the check in time',
  async (t) => {
    const sim = await startTestSimulator(t, { user: 'admin', password: 'secret' });
    sim.faults.stopAnswering = true;
    const env = {
      MIKROTIK_HOST: '127.0.0.1',
      MIKROTIK_PORT: String(sim.port),
      MIKROTIK_PASSWORD: 'secret',
      MIKROTIK_TIMEOUT: '200',
    };
    const hung = cliIo(env);
    t.equal(await runCli(CHECK, hung), 1);
    t.match(
      hung.out(),
      /\nerror ROSGATE_UPSTREAM_TIMEOUT: router default .*did not answer the login in time/,
    );
    sim.faults.stopAnswering = false;

    // Logged in, then the router goes away while it is asked its version.
    const port = await fakeRouter(t, (s, reply, socket) => {
      if (s.command === '/login') reply('!done', tagOf(s));
      else socket.destroy();
    });
    const dropped = cliIo({ ...env, MIKROTIK_PORT: String(port) });
    t.equal(await runCli(CHECK, dropped), 1);
    t.match(
      dropped.out(),
      /\nerror ROSGATE_UPSTREAM_CLOSED: router default .*: router closed the connection\n$/,
    );
  },
);
