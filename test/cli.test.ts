import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { RouterOSAPI } from 'node-routeros';
import t from 'tap';
import { isServerCommand, runCli, type CliIo, type Running } from '../src/cli.js';
import { verifyPassword } from '../src/config/index.js';
import { startSimulator } from '../src/simulator/index.js';
import { DIST_MAIN, ensureBuilt } from './fixtures/dist-build.js';
import { eventually } from './fixtures/eventually.js';
import { RawClient } from './fixtures/raw-client.js';

// The audit trail of every app this file starts, out of the checkout.
const auditDir = mkdtempSync(join(tmpdir(), 'rosgate-cli-audit-'));
t.teardown(() => rmSync(auditDir, { recursive: true, force: true }));

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
    // The admin port on a free port, so tests never collide on 9728, and
    // the audit trail in a folder of its own.
    env: { LOG_LEVEL: 'silent', MONITORING_PORT: '0', AUDIT_LOG_DIR: auditDir, ...env },
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

t.test("--version and version print package.json's version", async (t) => {
  const { version } = JSON.parse(
    readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
  ) as {
    version: string;
  };
  for (const argv of [['--version'], ['version']]) {
    const x = io();
    t.equal(await runCli(argv, x), 0);
    t.equal(x.out(), `rosgate ${version} (node ${process.version})\n`, argv.join(' '));
  }
});

/** `s3crét` and a second line, cut inside the two bytes of é. */
function splitInsideE(): Buffer[] {
  const bytes = Buffer.from('s3crét\nnext line\n');
  const at = bytes.indexOf(0xc3) + 1;
  return [bytes.subarray(0, at), bytes.subarray(at)];
}

t.test('hash-password reads the password from stdin: the first line, piped or typed', async (t) => {
  const hashOf = async (input: Readable, isTTY = false) => {
    const x = { ...io(), stdin: Object.assign(input, { isTTY }) };
    const code = await runCli(['hash-password'], x);
    return { code, out: x.out().trim(), err: x.err() };
  };
  const piped = await hashOf(Readable.from(splitInsideE()));
  t.equal(piped.code, 0);
  t.ok(
    await verifyPassword({ passwordHash: piped.out }, 's3crét'),
    'the first line, split UTF-8 and all',
  );
  t.equal(piped.err, '', 'no prompt for a pipe');
  const noNewline = await hashOf(Readable.from(['pw-at-eof']));
  t.ok(
    await verifyPassword({ passwordHash: noNewline.out }, 'pw-at-eof'),
    'a file without a final newline',
  );
  const crlf = await hashOf(Readable.from(['typed\r\n']), true);
  t.ok(await verifyPassword({ passwordHash: crlf.out }, 'typed'), 'a line ended by CR LF');
  t.match(crlf.err, /^password \(shown as you type; Enter ends it\): $/, 'a terminal is prompted');
  const empty = await hashOf(Readable.from([]));
  t.equal(empty.code, 2);
  t.match(empty.err, /needs the password on stdin/);
});

t.test('hash-password still takes the password as its argument, and needs one', async (t) => {
  const x = io();
  t.equal(await runCli(['hash-password', 'pw'], x), 0);
  t.match(x.out(), /^scrypt\$/);
  t.ok(await verifyPassword({ passwordHash: x.out().trim() }, 'pw'));
  const y = io();
  t.equal(await runCli(['hash-password'], y), 2, 'no argument and no stdin');
  t.match(y.err(), /needs the password/);
});

t.test('config check names every problem of the file and the environment', async (t) => {
  const dir = t.testdir({ 'bad.yaml': 'routers:\n  - host: r\n    port: 0\n' });
  const x = io({ MAX_CONNECTIONS: 'many' });
  t.equal(await runCli(['config', 'check', '--config', join(dir, 'bad.yaml')], x), 1);
  t.equal(
    x.err(),
    [
      'invalid configuration: 2 problems',
      '  - routers[0].port must be an integer 1-65535',
      '  - MAX_CONNECTIONS must be an integer 1-1000',
      '',
    ].join('\n'),
  );
  t.equal(x.out(), '');
});

t.test('config check says ok with the warnings of a valid configuration', async (t) => {
  const x = io({ MIKROTIK_HOST: '192.0.2.1' });
  t.equal(await runCli(['config', 'check'], x), 0);
  t.equal(
    x.out(),
    'warning ROSGATE_CONFIG_EMPTY_ROUTER_PASSWORD: routers[0] has no password (set MIKROTIK_PASSWORD, password, passwordEnv or passwordFile)\n' +
      'ok: the configuration is valid\n',
  );
  const y = io();
  t.equal(await runCli(['config', 'lint'], y), 2);
  t.match(y.err(), /usage: rosgate config check/);
});

t.test('config check fails where start fails, with the same words', async (t) => {
  const situations: [string, NodeJS.ProcessEnv, RegExp][] = [
    ['no router configured', {}, /no router configured/],
    [
      'audit integrity on without its key',
      { MIKROTIK_HOST: '192.0.2.1', ENABLE_AUDIT_INTEGRITY: 'true' },
      /AUDIT_INTEGRITY_KEY/,
    ],
  ];
  for (const [name, env, words] of situations) {
    const check = io(env);
    const start = io(env);
    t.equal(await runCli(['config', 'check'], check), 1, `${name}: check`);
    t.equal(await runCli([], start), 1, `${name}: start`);
    t.match(check.err(), words, name);
    t.equal(check.err(), start.err(), `${name}: the same words`);
    t.notMatch(check.out(), /ok/, `${name}: no ok`);
  }
});

t.test(
  'config check with --simulate-if-unconfigured says the simulator would stand in, as npm start does',
  async (t) => {
    const x = io();
    t.equal(await runCli(['config', 'check', '--simulate-if-unconfigured'], x), 0);
    t.equal(
      x.out(),
      'note: no router configured: rosgate would front the bundled simulator\n' +
        'ok: the configuration is valid\n',
    );
  },
);

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
  const trail = t.testdir();
  const x = io({ PROXY_PORT: '1', AUDIT_LOG_DIR: trail }); // --port wins over the environment
  const running = (await runCli(['demo', '--port', '0'], x)) as Running;
  t.teardown(() => running.stop());
  t.match(x.out(), /user admin, password admin/);
  t.equal((await identityThrough(running.port as number, 'admin', 'admin')).length, 1);
  await running.stop();
  t.ok(
    readdirSync(trail).some((f) => f.endsWith('.jsonl')),
    'the audit trail goes where AUDIT_LOG_DIR says',
  );
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

t.test('audit runs the audit commands', async (t) => {
  const x = io();
  t.equal(await runCli(['audit', 'verify', join(auditDir, 'no-such.jsonl')], x), 2);
  t.match(x.err(), /cannot read the audit log/);
});

t.test(
  'start with --simulate-if-unconfigured and no router fronts the bundled simulator',
  async (t) => {
    const x = io({ PROXY_PORT: '0', LOG_LEVEL: 'warn' });
    const running = (await runCli(['start', '--simulate-if-unconfigured'], x)) as Running;
    t.equal((await identityThrough(running.port as number, 'admin', 'admin')).length, 1);
    t.match(x.out(), /fronting the bundled RouterOS simulator \(user admin, password admin\)/);
    t.notMatch(x.out(), /ROSGATE_CONFIG_NO_ROUTERS/, 'the missing router is not warned about');
    const simulatorPort = Number(/"simulatorPort":(\d+)/.exec(x.out())?.[1]);
    await running.stop();
    await t.rejects(
      RawClient.connect(simulatorPort),
      { code: 'ECONNREFUSED' },
      'the simulator stops with rosgate',
    );
  },
);

t.test('start reads audit key files relative to the config file', async (t) => {
  const sim = await startSimulator({ user: 'admin', password: 'pw', version: '7.17' });
  t.teardown(() => sim.close());
  const dir = t.testdir({ 'integrity.key': 'an-integrity-key-of-some-length\n' });
  const trail = join(dir, 'audit');
  writeFileSync(
    join(dir, 'config.yaml'),
    [
      'routers:',
      `  - { host: 127.0.0.1, port: ${sim.port}, password: pw, listen: { host: 127.0.0.1, port: 0 } }`,
      `audit: { dir: ${trail}, integrity: { enabled: true, keyFile: integrity.key } }`,
      '',
    ].join('\n'),
  );
  const x = io({ AUDIT_LOG_DIR: undefined });
  const running = (await runCli(['--config', join(dir, 'config.yaml')], x)) as Running;
  t.equal((await identityThrough(running.port as number, 'admin', 'pw')).length, 1);
  await running.stop();
  const files = readdirSync(trail)
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => join(trail, f));
  const keyed = io();
  t.equal(
    await runCli(['audit', 'verify', ...files, '--key-file', join(dir, 'integrity.key')], keyed),
    0,
  );
  t.match(keyed.out(), /^intact/m);
  const unkeyed = io();
  t.equal(await runCli(['audit', 'verify', ...files], unkeyed), 1, 'the chain is an HMAC');
  t.match(unkeyed.out(), /pass --key-file/);
});

t.test('start refuses an audit key it cannot find', async (t) => {
  const x = io({
    MIKROTIK_HOST: '127.0.0.1',
    MIKROTIK_PASSWORD: 'pw',
    ENABLE_AUDIT_INTEGRITY: 'true',
  });
  t.equal(await runCli([], x), 1);
  t.match(x.err(), /audit\.integrity is enabled but AUDIT_INTEGRITY_KEY is not set/);
});

/**
 * A lock in `dir` as a crashed rosgate of this host leaves it, touched just
 * now: a start waits up to 15 s to see whether its holder still touches it.
 */
function leftLock(dir: string): string {
  mkdirSync(dir, { recursive: true });
  // A pid that ran and is gone.
  const pid = spawnSync(process.execPath, ['-e', '']).pid;
  const text = `${JSON.stringify({ pid, hostname: hostname(), startedAt: new Date().toISOString(), token: 'left' })}\n`;
  writeFileSync(join(dir, 'rosgate.lock'), text);
  return text;
}

const WAITING = /waiting to see whether its holder still touches it/;

/** Polls (5 ms apart) granted a child process: it loads all of dist/ first. */
const CHILD_POLLS = 6000;

t.test(
  'a stop asked while start waits on the audit lock ends the start: exit 0, nothing served',
  async (t) => {
    const dir = t.testdir();
    const lock = leftLock(dir);
    const stopping = new AbortController();
    const x = {
      ...io({
        MIKROTIK_HOST: '127.0.0.1',
        MIKROTIK_PORT: '1',
        AUDIT_LOG_DIR: dir,
        LOG_LEVEL: 'info',
      }),
      stopSignal: stopping.signal,
    };
    const result = runCli(['--simulate-if-unconfigured'], x);
    await eventually(() => WAITING.test(x.out()), 'the wait on the lock');
    stopping.abort(new Error('SIGTERM'));
    t.equal(await result, 0);
    t.match(x.out(), /stopped while starting/);
    t.notMatch(x.out(), /listening/, 'no port was opened');
    t.equal(x.stops.length, 0, 'nothing to stop');
    t.equal(readFileSync(join(dir, 'rosgate.lock'), 'utf8'), lock, 'the lock was not taken');
    const early = { ...io({ MIKROTIK_HOST: '127.0.0.1' }), stopSignal: AbortSignal.abort() };
    t.equal(await runCli([], early), 0, 'asked before the start: it does not start');
    t.equal(early.stops.length, 0);
  },
);

t.test(
  'a stop asked while npm start waits on the audit lock closes the bundled simulator',
  async (t) => {
    const dir = t.testdir();
    leftLock(dir);
    const stopping = new AbortController();
    const x = {
      ...io({ AUDIT_LOG_DIR: dir, LOG_LEVEL: 'info', PROXY_PORT: '0' }),
      stopSignal: stopping.signal,
    };
    const result = runCli(['--simulate-if-unconfigured'], x);
    await eventually(() => WAITING.test(x.out()), 'the wait on the lock');
    const simulatorPort = Number(/"simulatorPort":(\d+)/.exec(x.out())?.[1]);
    stopping.abort(new Error('SIGTERM'));
    t.equal(await result, 0);
    await t.rejects(RawClient.connect(simulatorPort), { code: 'ECONNREFUSED' });
  },
);

t.test('a failed start is not taken for a stop when no stop was asked', async (t) => {
  const dir = t.testdir({ audit: 'a file where the folder would be' });
  const x = {
    ...io({ MIKROTIK_HOST: '127.0.0.1', AUDIT_LOG_DIR: join(dir, 'audit') }),
    stopSignal: new AbortController().signal,
  };
  await t.rejects(runCli([], x), { code: 'EEXIST' });
});

t.test('a failed start is told even when a stop was asked meanwhile', async (t) => {
  const dir = t.testdir({ audit: 'a file where the folder would be' });
  let checks = 0;
  // Not asked when the start begins; asked by the time it fails.
  const stopSignal = {
    get aborted() {
      return checks++ > 0;
    },
    reason: new Error('stopped while starting'),
    throwIfAborted: () => undefined,
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
  } as unknown as AbortSignal;
  const x = {
    ...io({ MIKROTIK_HOST: '127.0.0.1', AUDIT_LOG_DIR: join(dir, 'audit') }),
    stopSignal,
  };
  await t.rejects(runCli([], x), { code: 'EEXIST' }, 'the failure, not a quiet exit 0');
});

t.test(
  'rosgate (dist/main.js) stops on SIGTERM while it waits on the audit lock, and ignores SIGHUP then',
  async (t) => {
    const dir = t.testdir();
    leftLock(dir);
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !/^(MIKROTIK_|REDIS_)/.test(key)),
    );
    ensureBuilt();
    const proc = spawn(process.execPath, [DIST_MAIN], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...env,
        MIKROTIK_HOST: '127.0.0.1',
        MIKROTIK_PORT: '1',
        MIKROTIK_PASSWORD: 'pw',
        PROXY_HOST: '127.0.0.1',
        PROXY_PORT: '0',
        MONITORING_PORT: '0',
        AUDIT_LOG_DIR: dir,
        LOG_LEVEL: 'info',
        // No coverage from the child: built code maps onto the sources differently from tap.
        _TAPJS_PROCESSINFO_COVERAGE_: '0',
      },
    });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
    t.teardown(() => {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      return exited;
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    // A child starting on a loaded machine: a longer wait than in-process ones.
    await eventually(() => WAITING.test(out), 'the wait on the lock', CHILD_POLLS);
    proc.kill('SIGHUP');
    await eventually(
      () => /SIGHUP while starting ignored/.test(err),
      'the SIGHUP noted',
      CHILD_POLLS,
    );
    t.equal(proc.exitCode, null, 'SIGHUP did not kill it');
    proc.kill('SIGTERM');
    t.equal(await exited, 0);
    t.notMatch(out, /listening/, 'no port was opened');
    t.match(out, /stopped while starting/);
  },
);

/** dist/main.js with `args`, stdout and stderr collected; killed at the end of the test. */
function spawnMain(t: { teardown(fn: () => unknown): void }, args: readonly string[]) {
  ensureBuilt();
  const proc = spawn(process.execPath, [DIST_MAIN, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    return exited;
  });
  const output = { out: '' };
  proc.stdout.on('data', (chunk: Buffer) => (output.out += chunk.toString()));
  return { proc, exited, output };
}

t.test('only the commands that keep running take over the stop and reload signals', (t) => {
  for (const argv of [[], ['start'], ['--config', 'x.yaml'], ['simulate'], ['demo']]) {
    t.ok(isServerCommand(argv), `${argv.join(' ') || '(no command)'} serves`);
  }
  for (const command of ['audit', 'config', 'hash-password', 'help', '--help', '-h', '--version']) {
    t.notOk(isServerCommand([command]), `${command} finishes by itself`);
  }
  t.end();
});

t.test('rosgate simulate stops on SIGHUP: a hung-up terminal ends it', async (t) => {
  const { proc, exited, output } = spawnMain(t, ['simulate', '--port', '0']);
  await eventually(() => /listening on/.test(output.out), 'the simulator to listen', CHILD_POLLS);
  proc.kill('SIGHUP');
  t.same(await exited, { code: 0, signal: null }, 'stopped, exit 0');
});
