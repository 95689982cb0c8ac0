import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { runCli, type Running } from '../src/cli.js';
import { sampleValue } from './fixtures/admin-prom-parse.js';
import { connectApi, startTestSimulator } from './fixtures/stack.js';
import { eventually } from './fixtures/eventually.js';
import { adminClient, type AdminClient } from './fixtures/wire-admin.js';
import { cliIo, type TestCliIo } from './fixtures/wire-cli.js';

// SIGHUP through the CLI: runCli registers a reload handler (main.ts binds
// it to SIGHUP); the test rewrites the config file and calls the handler.

const TOKEN = 'cli-reload-token-0123456789';

/** The config file's text: one router, its pool maximum, the log level and the client port. */
function configText(o: {
  simPort: number;
  poolMax: number;
  level?: string;
  port?: number;
}): string {
  return [
    'routers:',
    '  - host: 127.0.0.1',
    `    port: ${o.simPort}`,
    '    username: admin',
    '    password: secret',
    `    listen: { host: 127.0.0.1, port: ${o.port ?? 0} }`,
    `    pool: { max: ${o.poolMax} }`,
    `log: { level: ${o.level ?? 'info'} }`,
    '',
  ].join('\n');
}

/** The admin port the app logged when it started. */
function adminPortOf(io: TestCliIo): number {
  const line = io
    .out()
    .split('\n')
    .find((l) => l.includes('"msg":"admin port listening on /monitoring"'));
  return (JSON.parse(line as string) as { port: number }).port;
}

async function poolMax(admin: AdminClient): Promise<number | undefined> {
  const config = (await admin.request('config')).json<{ routers: { pool: { max: number } }[] }>();
  return config.routers[0]?.pool.max;
}

async function lastReloadOk(admin: AdminClient): Promise<number | undefined> {
  return sampleValue(await admin.metrics(), 'rosgate_config_last_reload_successful');
}

/**
 * rosgate started by the CLI from a config file with pool max 3, its reload
 * handler, its admin port and a logged-in client: each reload test runs its own.
 */
async function startReloadable(t: Test) {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret' });
  const dir = t.testdir();
  const file = join(dir, 'config.yaml');
  writeFileSync(file, configText({ simPort: sim.port, poolMax: 3 }));
  const io = cliIo({
    LOG_LEVEL: undefined,
    MONITORING_TOKEN: TOKEN,
    AUDIT_LOG_DIR: join(dir, 'audit'),
  });
  const running = (await runCli(['--config', file], io)) as Running;
  t.teardown(() => running.stop());
  t.equal(io.reloads.length, 1, 'a reload handler was registered');
  const reload = io.reloads[0] as () => Promise<void>;
  const admin = adminClient(adminPortOf(io), TOKEN);
  const api = await connectApi(running.port as number, { password: 'secret' });
  t.teardown(() => api.close());
  t.equal(await poolMax(admin), 3);
  return { sim, file, io, reload, admin, api, port: running.port as number };
}

t.test('SIGHUP applies a live change and refuses one that needs a restart', async (t) => {
  t.test('a live change is applied', async (t) => {
    const { sim, file, io, reload, admin, api } = await startReloadable(t);
    writeFileSync(file, configText({ simPort: sim.port, poolMax: 2, level: 'debug' }));
    await reload();
    t.equal(await poolMax(admin), 2);
    t.equal(await lastReloadOk(admin), 1);
    t.match(io.out(), /"sections":\["log","routers"\],"msg":"configuration reload applied"/);
    t.same(await api.write('/system/identity/print'), [{ name: 'MikroTik' }], 'the client works');
  });

  t.test('a change that needs a restart is refused and changes nothing', async (t) => {
    const { sim, file, io, reload, admin } = await startReloadable(t);
    writeFileSync(file, configText({ simPort: sim.port, poolMax: 4, port: 18728 }));
    await reload();
    t.equal(await poolMax(admin), 3, 'the live part was not applied either');
    t.equal(await lastReloadOk(admin), 0);
    t.match(io.out(), /routers\[0\]\.listen changed: it needs a restart/);
    t.match(io.out(), /"msg":"configuration reload refused; nothing changed"/);
  });

  t.test('an invalid file is refused and changes nothing', async (t) => {
    const { sim, file, io, reload, admin, api } = await startReloadable(t);
    writeFileSync(file, configText({ simPort: sim.port, poolMax: 0 }));
    await reload();
    t.equal(await poolMax(admin), 3);
    t.equal(await lastReloadOk(admin), 0);
    t.match(io.out(), /routers\[0\]\.pool\.max must be/);
    writeFileSync(file, configText({ simPort: sim.port, poolMax: 2, level: 'debug' }));
    await reload();
    t.equal(await lastReloadOk(admin), 1, 'the next good reload sets the metric back');
    t.same(await api.write('/system/identity/print'), [{ name: 'MikroTik' }], 'the client works');
  });
});

/** A descriptor writing to the pipe, once it has a reader; undefined before. */
function openWriter(pipe: string): number | undefined {
  try {
    return openSync(pipe, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
}

t.test(
  'SIGHUPs in a row apply the file as it was last read, not as a slower read found it',
  async (t) => {
    const { sim, file, io, reload, admin } = await startReloadable(t);
    // The first reload's read waits on a password file that is a pipe: it
    // finds pool max 4, and ends after the second, which finds pool max 5.
    const pipe = join(t.testdir(), 'password');
    execFileSync('mkfifo', [pipe]);
    writeFileSync(
      file,
      configText({ simPort: sim.port, poolMax: 4 }).replace(
        '    password: secret',
        `    passwordFile: ${pipe}`,
      ),
    );
    const first = reload();
    // Its read is under way once the pipe has a reader (opening to write without one fails).
    const writer = await eventually(() => openWriter(pipe), {
      until: (fd) => fd !== undefined,
      what: 'the first reload to read the pipe',
    });
    writeFileSync(file, configText({ simPort: sim.port, poolMax: 5 }));
    const second = reload();
    const third = reload();
    writeSync(writer as number, 'secret\n'); // the first read goes on
    closeSync(writer as number);
    await Promise.all([first, second, third]);
    t.equal(await poolMax(admin), 5, "the file's last state is in force");
    t.equal(
      io.out().split('"msg":"configuration reload applied"').length - 1,
      2,
      'the signals that came during the first reload made one more',
    );
  },
);

t.test(
  "SIGHUP applies the file's users to the logins that follow; sessions logged in stay",
  async (t) => {
    const { sim, file, io, reload, admin, api, port: proxyPort } = await startReloadable(t);
    const withUsers = (password: string) =>
      `${configText({ simPort: sim.port, poolMax: 3 })}users:\n  - name: billing\n    password: ${password}\n`;
    const login = (user: string, password: string) => connectApi(proxyPort, { user, password });

    writeFileSync(file, withUsers('first-pass-0123'));
    await reload();
    t.equal(await lastReloadOk(admin), 1);
    t.match(io.out(), /"sections":\["users"\],"msg":"configuration reload applied"/);
    t.notMatch(io.out(), /first-pass-0123/, 'the log names no password');
    const billing = await login('billing', 'first-pass-0123');
    t.teardown(() => billing.close());
    t.same(await billing.write('/system/identity/print'), [{ name: 'MikroTik' }], 'a new user');
    await t.rejects(
      login('admin', 'secret'),
      /password is invalid/,
      "the router's account no longer logs in",
    );
    t.same(
      await api.write('/system/identity/print'),
      [{ name: 'MikroTik' }],
      'a session logged in before stays',
    );

    writeFileSync(file, withUsers('second-pass-0123'));
    await reload();
    await t.rejects(
      login('billing', 'first-pass-0123'),
      /password is invalid/,
      'the old password is refused',
    );
    (await login('billing', 'second-pass-0123')).close();
    t.same(
      await billing.write('/system/identity/print'),
      [{ name: 'MikroTik' }],
      "the user's open session stays",
    );

    writeFileSync(file, configText({ simPort: sim.port, poolMax: 3 }));
    await reload();
    (await login('admin', 'secret')).close(); // checked by the router again
    t.equal(await lastReloadOk(admin), 1);
  },
);

t.test('with the bundled simulator a reload keeps fronting it', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'config.yaml');
  writeFileSync(file, 'cache: { enabled: true }\n');
  const io = cliIo({ LOG_LEVEL: undefined, PROXY_PORT: '0', AUDIT_LOG_DIR: join(dir, 'audit') });
  const running = (await runCli(['--config', file, '--simulate-if-unconfigured'], io)) as Running;
  t.teardown(() => running.stop());
  writeFileSync(file, 'cache: { enabled: false }\n');
  await (io.reloads[0] as () => Promise<void>)();
  t.match(io.out(), /"sections":\["cache"\],"msg":"configuration reload applied"/);
  const api = await connectApi(running.port as number, { password: 'admin' });
  t.teardown(() => api.close());
  t.same(await api.write('/system/identity/print'), [{ name: 'MikroTik' }]);
});

t.test(
  'with the bundled simulator a reload that adds a router is refused: it needs a restart',
  async (t) => {
    const sim = await startTestSimulator(t, { user: 'admin', password: 'secret' });
    const dir = t.testdir();
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'cache: { enabled: true }\n');
    const io = cliIo({
      LOG_LEVEL: undefined,
      PROXY_PORT: '0',
      MONITORING_TOKEN: TOKEN,
      AUDIT_LOG_DIR: join(dir, 'audit'),
    });
    const running = (await runCli(['--config', file, '--simulate-if-unconfigured'], io)) as Running;
    t.teardown(() => running.stop());
    const admin = adminClient(adminPortOf(io), TOKEN);
    const before = await poolMax(admin);
    writeFileSync(file, configText({ simPort: sim.port, poolMax: 2 }));
    await (io.reloads[0] as () => Promise<void>)();
    t.match(
      io.out(),
      /"errors":\["routers were added while rosgate fronts the bundled simulator: it needs a restart"\],"msg":"configuration reload refused; nothing changed"/,
    );
    t.notMatch(io.out(), /configuration reload applied/);
    t.equal(await lastReloadOk(admin), 0, 'the reload metric says it failed');
    t.equal(await poolMax(admin), before, 'nothing changed: the simulator router keeps its pool');
    const api = await connectApi(running.port as number, { password: 'admin' });
    t.teardown(() => api.close());
    t.same(
      await api.write('/system/identity/print'),
      [{ name: 'MikroTik' }],
      'still the simulator',
    );
  },
);

t.test(
  'SIGHUP after a PUT: the file wins for what it changed, the rest of the PUT stays',
  async (t) => {
    const sim = await startTestSimulator(t, { user: 'admin', password: 'secret' });
    const dir = t.testdir();
    const file = join(dir, 'config.yaml');
    writeFileSync(file, configText({ simPort: sim.port, poolMax: 3 }));
    const io = cliIo({
      LOG_LEVEL: undefined,
      MONITORING_TOKEN: TOKEN,
      AUDIT_LOG_DIR: join(dir, 'audit'),
      ENABLE_CIRCUIT_BREAKER: 'false',
    });
    const running = (await runCli(['--config', file], io)) as Running;
    t.teardown(() => running.stop());
    const reload = io.reloads[0] as () => Promise<void>;
    const admin = adminClient(adminPortOf(io), TOKEN);
    const put = async (section: string, body: unknown) =>
      (await admin.request(`config/${section}`, { method: 'PUT', body })).status;
    t.equal(await put('flow', { maxConcurrency: 8 }), 200);
    t.equal(await put('routers', { default: { pool: { max: 2 } } }), 200);
    const afterPut = (await admin.request('config')).json<{
      flow: { breaker: { enabled: boolean } };
    }>();
    t.equal(
      afterPut.flow.breaker.enabled,
      false,
      'the PUT kept the breaker the environment turned off',
    );

    // The file changes the pool maximum and the log level, not the flow.
    writeFileSync(file, configText({ simPort: sim.port, poolMax: 4, level: 'debug' }));
    await reload();
    const config = (await admin.request('config')).json<{
      flow: { maxConcurrency: number; breaker: { enabled: boolean } };
      routers: { pool: { max: number } }[];
      log: { level: string };
    }>();
    t.equal(config.flow.maxConcurrency, 8, 'the PUT to a key the file did not change is kept');
    t.equal(config.routers[0]?.pool.max, 4, 'the file changed the pool maximum: the file wins');
    t.equal(config.log.level, 'debug');
    t.equal(config.flow.breaker.enabled, false, 'what the environment set stays');
    const lines = io
      .out()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    t.match(
      lines.find((l) => String(l['msg']).includes('the file wins')),
      { level: 40, keys: ['routers.default.pool.max'] },
      'each key the file overrode is logged',
    );
    t.match(
      lines.find((l) => String(l['msg']).includes('keeps changes made through the admin port')),
      { level: 30, keys: ['flow.maxConcurrency'] },
      'and each PUT-made key it kept',
    );

    // Reloading the same file again changes nothing and overrides nothing.
    const before = io.out().length;
    await reload();
    t.notMatch(io.out().slice(before), /the file wins/);
    t.equal(await lastReloadOk(admin), 1);
  },
);

t.test('a stop signal waits the grace in force, as changed live', async (t) => {
  const { io, admin, api } = await startReloadable(t);
  const put = await admin.request('config/shutdown', { method: 'PUT', body: { graceMs: 321 } });
  t.equal(put.status, 200);
  await api.close();
  await (io.stops[0] as () => Promise<void>)();
  t.match(io.out(), /"graceMs":321,"msg":"stopping: serving connected clients until they leave"/);
});
