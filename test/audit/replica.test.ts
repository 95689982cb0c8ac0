import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { createAuditStage } from '../../src/audit/index.js';
import { runAuditCli } from '../../src/audit/cli.js';
import { searchAudit } from '../../src/audit/search-audit.js';
import { verifyFiles } from '../../src/audit/verify-files.js';
import { auditConfig, auditFiles, captureLogger, readRecords } from '../fixtures/audit-helpers.js';

/** A trail in `cwd/audit` whose records name `replica` (none when undefined), with two events. */
async function trailOf(cwd: string, replica: string | undefined): Promise<string> {
  const trail = createAuditStage({
    config: auditConfig({ dir: 'audit' }),
    logger: captureLogger().logger,
    cwd,
    replica,
  });
  trail.events.start({ version: '1.0.0' });
  trail.events.lockoutsCleared({ filter: {}, cleared: [] });
  await trail.writer.close();
  return join(cwd, 'audit');
}

function capture(): Writable & { text: () => string } {
  let text = '';
  return Object.assign(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        text += chunk.toString();
        done();
      },
    }),
    { text: () => text },
  );
}

t.test('records name the replica and the chain covers it', async (t) => {
  const dir = await trailOf(t.testdir(), 'pod-7');
  const records = readRecords(dir);
  t.equal(records.length, 2);
  t.ok(records.every((r) => r.replica === 'pod-7'));
  t.match(await verifyFiles(auditFiles(dir)), { ok: true });
});

t.test('without a replica the records have no such field', async (t) => {
  const dir = await trailOf(t.testdir(), undefined);
  t.ok(readRecords(dir).every((r) => !('replica' in r)));
});

t.test('search keeps one replica’s records, on the command line too', async (t) => {
  const cwd = t.testdir();
  const dir = await trailOf(cwd, 'r1');
  const found: unknown[] = [];
  for await (const record of searchAudit(dir, { replica: 'r1' })) found.push(record);
  t.equal(found.length, 2);
  for await (const record of searchAudit(dir, { replica: 'r2' })) found.push(record);
  t.equal(found.length, 2, 'another replica has none');
  const stdout = capture();
  const stderr = capture();
  const code = await runAuditCli(['search', '--dir', dir, '--replica', 'r1', '--format', 'json'], {
    stdout,
    stderr,
  });
  t.equal(code, 0, stderr.text());
  const lines = stdout.text().trim().split('\n');
  t.equal(lines.length, 2);
  t.match(JSON.parse(lines[0] as string), { replica: 'r1' });
});
