import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { FileAuditWriter } from '../../src/audit/audit-writer.js';
import { verifyFiles } from '../../src/audit/verify-files.js';
import { auditFiles, captureLogger, readRecords, sampleEvent } from '../fixtures/audit-helpers.js';

const CHILD = fileURLToPath(new URL('../fixtures/audit-crash-child.ts', import.meta.url));

/** Starts the writer child; resolves on the first stdout line matching `pattern`. */
async function child(
  mode: string,
  dir: string,
  pattern: RegExp,
): Promise<{ proc: ChildProcess; match: RegExpExecArray }> {
  // No coverage from the child: tsx compiles the sources differently from
  // tap, and merging both garbles the coverage of every audit test.
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, mode, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
  });
  let text = '';
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
    proc.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const found = pattern.exec(text);
      if (found !== null) resolve(found);
    });
  });
  return { proc, match };
}

async function kill(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  const exited = once(proc, 'exit');
  proc.kill(signal);
  await exited;
}

/** A writer in the parent that resumes the chain, writes `count` and closes. */
async function resume(dir: string, count: number): Promise<void> {
  const writer = new FileAuditWriter({
    dir,
    bufferSize: 100,
    flushIntervalMs: 60_000,
    maxQueued: 1000,
    maxFileBytes: 100 * 1024 * 1024,
    retentionDays: 0,
    logger: captureLogger().logger,
    now: Date.now,
  });
  for (let i = 0; i < count; i++) writer.write(sampleEvent(1000 + i));
  await writer.close();
}

t.test('kill -9 loses only the unflushed buffer, and the chain resumes intact', async (t) => {
  const dir = t.testdir();
  const { proc, match } = await child('idle', dir, /ready (\d+) (\d+)\n/);
  await kill(proc, 'SIGKILL');
  t.equal(Number(match[1]), 57);
  t.equal(Number(match[2]), 50);
  t.equal(readRecords(dir).length, 50, 'the 7 records still in the buffer are lost, nothing more');
  await resume(dir, 5);
  const result = await verifyFiles(auditFiles(dir));
  t.same(
    { ok: result.ok, records: result.records, last: result.last?.seq, problems: result.problems },
    { ok: true, records: 55, last: 55, problems: [] },
  );
});

t.test(
  'kill -9 in the middle of writing leaves a log that verifies, at worst with a torn line',
  async (t) => {
    const dir = t.testdir();
    const { proc, match } = await child(
      'busy',
      dir,
      /flushed (\d+)\n(?:.*\n)*flushed (\d+)\n(?:.*\n)*flushed (\d+)\n/,
    );
    await kill(proc, 'SIGKILL');
    const acknowledged = Number(match[3]);
    const before = await verifyFiles(auditFiles(dir));
    t.equal(before.ok, true);
    t.ok(before.problems.every((p) => p.kind === 'torn'));
    t.ok(before.records >= acknowledged, 'every acknowledged flush is on disk');
    await resume(dir, 5);
    const after = await verifyFiles(auditFiles(dir));
    t.equal(after.ok, true);
    t.equal(after.records, before.records + 5);
    t.equal(after.last?.seq, before.records + 5);
  },
);

t.test('SIGTERM with a close() on the way out loses nothing', async (t) => {
  const dir = t.testdir();
  const { proc } = await child('term', dir, /ready/);
  await kill(proc, 'SIGTERM');
  t.equal(readRecords(dir).length, 57);
  t.equal((await verifyFiles(auditFiles(dir))).ok, true);
});
