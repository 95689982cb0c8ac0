import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import type { AuditRecord } from '../../src/audit/index.js';
import { runCli } from '../../src/cli.js';
import { auditFiles, readRecords } from '../fixtures/audit-helpers.js';
import { NodeProcess } from '../fixtures/pack-install.js';
import { connectApi, startTestSimulator } from '../fixtures/stack.js';
import { eventually } from '../fixtures/eventually.js';
import { adminClient } from '../fixtures/wire-admin.js';
import { cliIo } from '../fixtures/wire-cli.js';

// rosgate as a real process (src/main.ts through tsx): what the audit trail
// holds after SIGTERM and after kill -9, and one process per audit folder.

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const TOKEN = 'audit-process-token-0123456789';
const BUFFER_SIZE = 10;
const COMMANDS = 25;

interface Proxy {
  process: NodeProcess;
  port: number;
  adminPort: number;
  trail: string;
  /** The config file: a second process started with it shares the audit folder. */
  config: string;
}

/** rosgate in a child process in front of a simulator, its trail flushed every 10 records. */
async function startProxy(t: Test): Promise<Proxy> {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret' });
  const dir = t.testdir();
  const trail = join(dir, 'audit');
  const file = join(dir, 'config.yaml');
  writeFileSync(
    file,
    [
      'routers:',
      `  - { host: 127.0.0.1, port: ${sim.port}, password: secret, listen: { host: 127.0.0.1, port: 0 } }`,
      'monitoring: { host: 127.0.0.1, port: 0 }',
      `audit: { dir: ${trail}, bufferSize: ${BUFFER_SIZE}, flushIntervalMs: 3600000 }`,
      'log: { level: info }',
      '',
    ].join('\n'),
  );
  const child = rosgate(t, file);
  const [, port] = await child.waitFor(
    /"port":(\d+)[^\n]*"msg":"listening for RouterOS API clients"/,
    20_000,
  );
  const [, adminPort] = await child.waitFor(
    /"port":(\d+)[^\n]*"msg":"admin port listening on \/monitoring"/,
    5_000,
  );
  return { process: child, port: Number(port), adminPort: Number(adminPort), trail, config: file };
}

/** rosgate with `config` in a child process, killed at teardown. */
function rosgate(t: Test, config: string): NodeProcess {
  // No coverage from the child: tsx compiles the sources differently from
  // tap, and merging both garbles the coverage (see test/audit/crash.test.ts).
  const child = new NodeProcess(['--import', 'tsx', MAIN, '--config', config], {
    ...process.env,
    _TAPJS_PROCESSINFO_COVERAGE_: '0',
    MONITORING_TOKEN: TOKEN,
  });
  t.teardown(() => child.child.kill('SIGKILL'));
  return child;
}

/** Logs in (one login record) and runs `COMMANDS` prints through rosgate. */
async function traffic(proxy: Proxy, isClosing: boolean): Promise<void> {
  const api = await connectApi(proxy.port, { password: 'secret' });
  for (let i = 0; i < COMMANDS; i++) await api.write('/ip/address/print', [`?comment=c${i}`]);
  if (isClosing) await api.close();
}

async function verifies(t: Test, trail: string): Promise<void> {
  const io = cliIo();
  t.equal(await runCli(['audit', 'verify', ...auditFiles(trail)], io), 0, io.out());
  t.match(io.out(), /^intact: \d+ records/m);
}

t.test('SIGTERM loses no audit record, and the trail verifies', async (t) => {
  const proxy = await startProxy(t);
  await traffic(proxy, true);
  t.equal(await proxy.process.stop('SIGTERM', 15_000), 0, 'rosgate exits cleanly');
  const records = readRecords(proxy.trail);
  t.same(
    records.map((r) => r.kind),
    ['start', 'login', ...new Array<string>(COMMANDS).fill('command'), 'logout', 'stop'],
    'every event, the stop last',
  );
  t.same(
    records.map((r) => r.seq),
    records.map((_, i) => i + 1),
  );
  await verifies(t, proxy.trail);
});

t.test('kill -9 loses at most the unflushed buffer, and the chain verifies', async (t) => {
  const proxy = await startProxy(t);
  await traffic(proxy, false);
  const emitted = 2 + COMMANDS; // start, login, the commands
  const admin = adminClient(proxy.adminPort, TOKEN);
  const head = await eventually(
    async () => (await admin.request('audit/head')).json<{ seq: number } | null>(),
    {
      until: (h) => h !== null && h.seq >= emitted - (emitted % BUFFER_SIZE),
      what: 'two full buffers on disk',
      intervalMs: 20,
      attempts: 250,
    },
  );
  t.equal(await proxy.process.stop('SIGKILL', 5_000), null);
  const records: AuditRecord[] = readRecords(proxy.trail);
  t.ok(records.length >= (head?.seq ?? 0), 'every record the head acknowledged is on disk');
  t.ok(emitted - records.length < BUFFER_SIZE, `lost ${emitted - records.length} < one buffer`);
  t.equal(records.at(-1)?.kind, 'command', 'no stop record: the process was killed');
  await verifies(t, proxy.trail);
});

t.test(
  'a second rosgate on the same audit folder refuses to start, naming it and the holder',
  async (t) => {
    const first = await startProxy(t);
    const lock = join(first.trail, 'rosgate.lock');
    t.match(JSON.parse(readFileSync(lock, 'utf8')), { pid: first.process.child.pid });
    const second = rosgate(t, first.config);
    const [code] = (await once(second.child, 'exit')) as [number | null];
    t.equal(code, 1, 'it exits with 1');
    t.match(
      second.output,
      `rosgate: the audit directory ${first.trail} is held by rosgate pid ${first.process.child.pid} on host `,
    );
    t.notMatch(second.output, /listening/, 'before binding any port');

    await traffic(first, true);
    t.equal(await first.process.stop('SIGTERM', 15_000), 0);
    t.notOk(existsSync(lock), 'the lock goes with the holder');
    t.same(
      readRecords(first.trail).filter((r) => r.kind === 'start').length,
      1,
      'one process wrote the trail',
    );
    await verifies(t, first.trail);
  },
);

t.test('the lock of a killed rosgate is taken over at the next start', async (t) => {
  const first = await startProxy(t);
  await traffic(first, true);
  t.equal(await first.process.stop('SIGKILL', 5_000), null);
  const lock = join(first.trail, 'rosgate.lock');
  t.match(JSON.parse(readFileSync(lock, 'utf8')), { pid: first.process.child.pid }, 'left behind');

  const next = rosgate(t, first.config);
  await next.waitFor(/"msg":"listening for RouterOS API clients"/, 20_000);
  t.match(
    next.output,
    new RegExp(
      `"holder":\\{"pid":${first.process.child.pid},[^\\n]*"msg":"took over the audit directory lock of a rosgate process that is gone"`,
    ),
  );
  t.match(JSON.parse(readFileSync(lock, 'utf8')), { pid: next.child.pid });
  t.equal(await next.stop('SIGTERM', 15_000), 0);
  t.same(
    readRecords(first.trail)
      .map((r) => r.kind)
      .filter((k) => k === 'start' || k === 'stop'),
    ['start', 'start', 'stop'],
    'the killed run, then the next one',
  );
  await verifies(t, first.trail);
});
