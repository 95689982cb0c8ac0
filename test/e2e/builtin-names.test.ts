import t, { type Test } from 'tap';
import { searchAudit, verifyFiles, type AuditRecord } from '../../src/audit/index.js';
import { auditFiles } from '../fixtures/audit-helpers.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text } from '../fixtures/raw-client.js';
import { connectApi, startStack, type Stack } from '../fixtures/stack.js';
import { adminClient } from '../fixtures/wire-admin.js';

// Names an object literal treats specially (`__proto__`, `constructor`),
// sent by a client or an operator, through the wired app at its defaults
// (cache, flow and audit on): answered like any unknown name, recorded as
// sent, whether the router answers, drops the command or the client leaves.

const TOKEN = 'e2e-builtin-names-token-0123';

async function stackIn(t: Test): Promise<{ stack: Stack; dir: string }> {
  const dir = t.testdir();
  const stack = await startStack(t, {
    config: {
      monitoring: { host: '127.0.0.1', port: 0, token: TOKEN },
      audit: { dir, flushIntervalMs: 10 },
    },
  });
  return { stack, dir };
}

/** The add records, once the app has stopped (every record on disk), and the chain verified. */
async function addRecords(t: Test, stack: Stack, dir: string): Promise<AuditRecord[]> {
  await stack.app.stop(0);
  const verified = await verifyFiles(auditFiles(dir));
  t.match(verified, { ok: true }, 'the chain verifies');
  const records: AuditRecord[] = [];
  for await (const record of searchAudit(dir, { path: '/ip/hotspot/user' })) records.push(record);
  return records.filter((record) => record.verb === 'add');
}

const WORDS = ['=name=v1', '=__proto__=evil', '=constructor=x'];
/** What the record's attributes hold, keys in canonical (sorted) order. */
const SENT = [
  ['__proto__', 'evil'],
  ['constructor', 'x'],
  ['name', 'v1'],
];

/** A record's attributes as entries (an object literal would take `__proto__` for its prototype). */
function attributesOf(record: AuditRecord | undefined): [string, unknown][] {
  return Object.entries((record?.details?.['attributes'] ?? {}) as object);
}

t.test('the router traps them, and the record keeps every attribute', async (t) => {
  const { stack, dir } = await stackIn(t);
  const api = await connectApi(stack.port, { password: 'secret' });
  await t.rejects(api.write('/ip/hotspot/user/add', WORDS), /unknown parameter __proto__/);
  t.same(await api.write('/system/identity/print'), [{ name: 'MikroTik' }], 'the session goes on');
  await api.close();
  const [record] = await addRecords(t, stack, dir);
  t.match(record, { result: 'failure', details: { trap: { message: /__proto__/ } } });
  t.same(attributesOf(record), SENT);
});

t.test('a router dropped mid-command: the error is recorded with the attributes', async (t) => {
  const { stack, dir } = await stackIn(t);
  const client = await openRaw(t, stack.port, { user: 'admin', password: 'secret' });
  stack.sim.faults.latencyMs = 1_000;
  client.send(['/ip/hotspot/user/add', ...WORDS]);
  await eventually(() => (stack.sim.counters.commands['/ip/hotspot/user/add'] ?? 0) > 0);
  stack.sim.faults.dropAll();
  const answer = text(await client.untilDone());
  t.match(answer[0], /^!trap /, 'the client hears of it');
  stack.sim.faults.latencyMs = 0;
  client.close();
  const [record] = await addRecords(t, stack, dir);
  t.match(record, { result: 'error' });
  t.same(attributesOf(record), SENT);
});

t.test('a client that leaves mid-command: its command is recorded as sent', async (t) => {
  const { stack, dir } = await stackIn(t);
  const client = await openRaw(t, stack.port, { user: 'admin', password: 'secret' });
  stack.sim.faults.stopAnswering = true;
  client.send(['/ip/hotspot/user/add', ...WORDS]);
  await eventually(() => stack.sim.counters.sentencesWaiting > 0);
  client.close();
  await eventually(() => stack.router.stats.clientsConnected === 0);
  stack.sim.faults.stopAnswering = false;
  const [record] = await addRecords(t, stack, dir);
  t.ok(record, 'recorded');
  t.same(attributesOf(record), SENT);
});

t.test('a live change naming __proto__ is refused and changes nothing', async (t) => {
  const { stack } = await stackIn(t);
  const admin = adminClient(stack.app.adminPort as number, TOKEN);
  const put = await admin.request('config/cache', {
    method: 'PUT',
    body: JSON.parse('{"__proto__":{"enabled":false}}') as unknown,
  });
  t.equal(put.status, 400);
  t.match(put.json(), { errors: ['cache.__proto__ is not a known key'] });
  t.equal(stack.app.config.cache.enabled, true, 'the cache stays on');
});
