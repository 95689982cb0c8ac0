import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import t from 'tap';
import {
  RecordBatch,
  hostAuditThread,
  readBatch,
  type FromAuditThread,
} from '../../src/audit/audit-thread.js';
import type { AuditRecord } from '../../src/audit/audit-record.js';
import {
  FactsReader,
  NO_REPLY,
  TABLE_SIZE,
  commandEvent,
  factsBound,
  stamped,
  writeFacts,
  type CommandFacts,
} from '../../src/audit/command-facts.js';
import { decryptDetails, isEncrypted } from '../../src/audit/details-cipher.js';
import { Redactor } from '../../src/audit/redactor.js';
import type { ThreadAuditWriter } from '../../src/audit/thread-audit-writer.js';
import { Sentence } from '../../src/protocol/index.js';
import {
  fileWriterIn,
  readRecords,
  threadHostOptions,
  threadWriterIn,
} from '../fixtures/audit-helpers.js';
import { eventually } from '../fixtures/eventually.js';

const ADD = Sentence.from([
  '/ip/hotspot/user/add',
  '=name=V1A',
  '=password=s3cret',
  '=comment={"plan":"1d"}|A|B',
  '=__proto__=x',
  '.tag=7',
]);
const PRINT = Sentence.from([
  '/ip/hotspot/user/print',
  '?name=Кассир',
  '?=secret=x',
  '.proplist=name',
]);
const START_MS = Date.parse('2024-05-01T00:00:00.000Z');

/** A print's facts with `over` on top. */
function facts(over: Partial<CommandFacts> = {}): CommandFacts {
  return {
    timestamp: START_MS + 1234.5,
    kind: 'command',
    level: 'metadata',
    result: 'success',
    user: 'billing',
    address: '10.0.0.5',
    router: 'default',
    connId: 7,
    sentence: PRINT,
    path: '/ip/hotspot/user',
    verb: 'print',
    rule: undefined,
    verdict: undefined,
    cache: undefined,
    rows: 3,
    duration: 4,
    error: undefined,
    flags: undefined,
    ret: undefined,
    trap: undefined,
    ...over,
  };
}

/**
 * Facts of every kind, level, result, cache note and verdict, each optional
 * field there and not, text beyond ASCII, and a sentence larger than a batch.
 */
const CORPUS: readonly CommandFacts[] = [
  facts(),
  facts({ kind: 'policyDenied', result: 'denied', rule: 'no-reboot', verdict: 'deny', rows: 0 }),
  facts({ kind: 'flag', verdict: 'flag', flags: ['sql', 'xss'], level: 'request' }),
  facts({ kind: 'flag', flags: [] }),
  facts({ level: 'request', sentence: ADD, verb: 'add', ret: '*1A', cache: 'bypass' }),
  facts({ level: 'request', result: 'failure', trap: { category: '1', message: 'no such item' } }),
  facts({ level: 'request', result: 'failure', trap: { message: 'failure: exists' } }),
  facts({ level: 'request', result: 'failure', trap: { category: '2' } }),
  facts({ level: 'request', result: 'failure', trap: {} }),
  facts({ result: 'error', error: { code: 'ROSGATE_RATE_LIMITED', message: 'rate limited' } }),
  facts({ result: 'cancelled', cache: 'hit', verdict: 'allow' }),
  facts({ cache: 'stale', verdict: 'audit', rule: 'watch' }),
  facts({ cache: 'coalesced' }),
  facts({ cache: 'miss', user: 'Кассир', address: '', router: 'édge', connId: 0xffffffff }),
  facts({ level: 'full', duration: 0.25, rows: 0 }),
  facts({
    level: 'request',
    sentence: Sentence.from(['/system/script/add', `=source=${'x'.repeat(100_000)}`]),
    path: '/system/script',
    verb: 'add',
  }),
];

/** `f` with its sentence as bytes, comparable with `t.same`. */
function comparable(f: CommandFacts): Record<string, unknown> {
  return { ...f, sentence: f.sentence.raw.toString('latin1') };
}

t.test('facts read back as they were written, batch after batch', async (t) => {
  const batch = new RecordBatch();
  for (const f of CORPUS) batch.addFacts(f);
  batch.add({ date: '2024-05-01', body: '"text":"between"' });
  for (const f of CORPUS) batch.addFacts(f);
  t.equal(batch.count, 2 * CORPUS.length + 1);
  const read: unknown[] = [];
  const records = readBatch(batch.take(1), (f) => {
    read.push(comparable(f));
    return { date: 'facts', body: '' };
  });
  t.same(read, [...CORPUS, ...CORPUS].map(comparable));
  t.same(records[CORPUS.length], { date: '2024-05-01', body: Buffer.from('"text":"between"') });
  // A new batch names its strings again: each batch is read alone.
  batch.addFacts(facts({ user: 'cashier' }));
  const next: string[] = [];
  readBatch(batch.take(2), (f) => {
    next.push(f.user);
    return { date: 'facts', body: '' };
  });
  t.same(next, ['cashier']);
});

t.test('strings past the room of the table are written out each time they come', async (t) => {
  const count = TABLE_SIZE + 3;
  const users = Array.from({ length: count }, (_, i) => `u${i}`);
  // Kept, then past the room (written out), then kept again.
  users.push('u3', `u${count - 1}`, 'u0');
  const out = Buffer.alloc(users.length * 128);
  const table = new Map<string, number>();
  let end = 0;
  for (const user of users) {
    const f = facts({ user });
    const from = end;
    end = writeFacts(out, end, f, table);
    if (end - from > factsBound(f)) t.fail(`facts of ${user} took more than their bound`);
  }
  t.equal(table.size, TABLE_SIZE, 'the table filled up and stayed so');
  const reader = new FactsReader(out);
  const read: string[] = [];
  for (let at = 0; at < end;) {
    const next = reader.read(at);
    read.push(next.facts.user);
    at = next.end;
  }
  t.same(read, users);
});

/** A threaded writer into `dir` that redacts `comment` and names replica r2. */
function threadedIn(
  t: { teardown(fn: () => unknown): void },
  dir: string,
  encryptionKey?: Buffer,
): ThreadAuditWriter {
  const options = { redact: ['comment'], replica: 'r2' };
  return threadWriterIn(
    t,
    dir,
    encryptionKey === undefined ? options : { ...options, encryptionKey },
  ).writer;
}

/** A record without what differs by chance (its id) and by chain (prev, hash), which it has. */
function withoutChance(record: AuditRecord): Record<string, unknown> {
  const { id, prev, hash, ...rest } = record;
  const isWhole = /^[0-9a-f-]{36}$/.test(id) && /^[0-9a-f]{64}$/.test(prev);
  return { ...rest, isWhole: isWhole && /^[0-9a-f]{64}$/.test(hash) };
}

t.test('the writer thread makes the record the proxy thread makes', async (t) => {
  const dir = t.testdir({ threaded: {}, inline: {} });
  const threaded = threadedIn(t, join(dir, 'threaded'));
  const inline = fileWriterIn(t, join(dir, 'inline'), { retentionDays: 0 }).writer;
  const redactor = new Redactor(['comment']);
  const below = CORPUS.filter((f) => f.level !== 'full');
  for (const f of below) {
    threaded.writeCommand(f);
    inline.write(stamped(commandEvent(f, redactor, NO_REPLY), f.timestamp, 'r2'));
  }
  await threaded.flush();
  await inline.flush();
  const made = readRecords(join(dir, 'threaded'));
  t.same(made.map(withoutChance), readRecords(join(dir, 'inline')).map(withoutChance));
  t.ok(
    made.map(withoutChance).every((record) => record['isWhole'] === true),
    'ids and hashes',
  );
  t.equal(made.length, below.length);
  t.match(made[4], {
    replica: 'r2',
    tag: '7',
    details: {
      ret: '*1A',
      attributes: { name: 'V1A', password: '***', comment: '***', ['__proto__']: 'x' },
    },
  });
  t.match(made[0], { details: undefined, timestamp: '2024-05-01T00:00:01.234Z' });
  t.match(threaded.stats(), { written: below.length, dropped: 0 });
});

t.test('the writer thread encrypts the details it makes', async (t) => {
  const dir = t.testdir();
  const key = Buffer.alloc(32, 9);
  const threaded = threadedIn(t, dir, key);
  const f = CORPUS[4] as CommandFacts;
  threaded.writeCommand(f);
  await threaded.flush();
  const [record] = readRecords(dir);
  const details = record?.details;
  t.ok(isEncrypted(details), 'the details are sealed');
  t.same(
    isEncrypted(details) ? decryptDetails(details, key) : undefined,
    commandEvent(f, new Redactor(['comment']), NO_REPLY).details,
  );
});

t.test('facts beyond maxQueued or after close are dropped and counted', async (t) => {
  const dir = t.testdir();
  const threaded = threadedIn(t, dir);
  await threaded.close();
  threaded.writeCommand(facts());
  t.match(threaded.stats(), { written: 0, dropped: 1 });
});

t.test('the host makes records of facts with its redaction and replica', async (t) => {
  const dir = t.testdir();
  const { port1, port2 } = new MessageChannel();
  const acks: FromAuditThread[] = [];
  port1.on('message', (m: FromAuditThread) => acks.push(m));
  hostAuditThread(port2, threadHostOptions(dir, { redact: ['comment'], replica: 'r9' }));
  const batch = new RecordBatch();
  batch.addFacts(CORPUS[4] as CommandFacts);
  batch.addFacts(CORPUS[1] as CommandFacts);
  const message = batch.take(1);
  port1.postMessage(message, [message.bytes]);
  port1.postMessage({ type: 'close', id: 2 });
  await eventually(() => acks.some((m) => m.type === 'ack' && m.id === 2));
  port1.close();
  t.match(readRecords(dir), [
    {
      seq: 1,
      replica: 'r9',
      action: '/ip/hotspot/user/add',
      details: { attributes: { password: '***', comment: '***' }, ret: '*1A' },
    },
    { seq: 2, replica: 'r9', kind: 'policyDenied', category: 'security', rule: 'no-reboot' },
  ]);
});
