/**
 * SIGTERM: the first signal drains (no new clients, connected ones
 * served until they leave), a second one exits at once. Runs the real
 * entry point, src/main.ts, in a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { RawClient, openRaw, text } from '../fixtures/raw-client.js';
import { startTestSimulator } from '../fixtures/stack.js';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

type Tap = Test;

interface Child {
  proc: ChildProcess;
  port: number;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** rosgate in a child process in front of `simPort`; resolves once it listens. */
async function startRosgate(t: Tap, simPort: number): Promise<Child> {
  const dir = t.testdir();
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      'routers:',
      '  - host: 127.0.0.1',
      `    port: ${simPort}`,
      '    username: admin',
      '    password: secret',
      '    listen: { host: 127.0.0.1, port: 0 }',
      'monitoring: { host: 127.0.0.1, port: 0 }',
      `audit: { dir: ${JSON.stringify(join(dir, 'audit'))} }`,
      'shutdown: { graceMs: 60000 }',
      '',
    ].join('\n'),
  );
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('MIKROTIK_')),
  );
  // No coverage from the child: tsx compiles the sources differently from tap.
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, '--config', config], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...env, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
  t.teardown(() => {
    if (proc.exitCode === null) proc.kill('SIGKILL');
    return exited;
  });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    void exited.then((code) => reject(new Error(`rosgate exited with ${code}: ${out}`)));
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const found = /"port":(\d+),[^\n]*listening for RouterOS API clients/.exec(out);
      if (found !== null) resolve(Number(found[1]));
    });
  });
  return { proc, port, exited };
}

/** Resolves with the exit code, or fails after `ms` (a guard, not a measurement). */
function exitWithin(child: Child, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    child.exited.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`rosgate still running after ${ms} ms`)), ms);
    }),
  ]);
}

t.test('SIGTERM drains: connected clients are served, new ones refused', async (t) => {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret' });
  const child = await startRosgate(t, sim.port);
  const c = await openRaw(t, child.port, { user: 'admin', password: 'secret' });
  child.proc.kill('SIGTERM');
  await t.rejects(
    (async () => {
      // The listener closes soon after the signal; until then connects may still land.
      for (;;) (await RawClient.connect(child.port)).socket.destroy();
    })(),
    'new connections are refused',
  );
  t.equal(
    text(await c.call(['/system/identity/print', '.tag=1'])).at(-1),
    '!done .tag=1',
    'a connected client is still served',
  );
  t.equal(child.proc.exitCode, null, 'rosgate waits while the client stays');
  await c.close();
  t.equal(await exitWithin(child, 10_000), 0, 'and exits cleanly once it has left');
});

t.test('a second SIGTERM exits at once', async (t) => {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret' });
  const child = await startRosgate(t, sim.port);
  const c = await openRaw(t, child.port, { user: 'admin', password: 'secret' });
  c.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=s']);
  await c.next();
  child.proc.kill('SIGTERM');
  t.equal(
    text(await c.call(['/system/identity/print', '.tag=1'])).at(-1),
    '!done .tag=1',
    'the first signal drains',
  );
  child.proc.kill('SIGTERM');
  t.equal(await exitWithin(child, 10_000), 1, 'the second one exits without waiting');
});
