import t from 'tap';
import { FairQueue } from '../../src/flow/fair-queue.js';
import type { Priority } from '../../src/flow/priority-rules.js';

const AGING_MS = 1000;

function queue() {
  return new FairQueue<string>({ agingMs: AGING_MS });
}

/** Serves everything at time `now`, in order. */
function serveAll(q: FairQueue<string>, now = 0): string[] {
  const out: string[] = [];
  for (let entry = q.next(now); entry !== undefined; entry = q.next(now)) {
    q.take(entry);
    out.push(entry.item);
  }
  return out;
}

t.test('an empty queue has nothing next and nothing oldest', (t) => {
  const q = queue();
  t.equal(q.next(0), undefined);
  t.equal(q.oldest(), undefined);
  t.equal(q.size, 0);
  t.end();
});

t.test('within one client the highest priority goes first, then the oldest', (t) => {
  const q = queue();
  const items: [string, Priority][] = [
    ['print-1', 'normal'],
    ['dump', 'low'],
    ['add-1', 'high'],
    ['print-2', 'normal'],
    ['add-2', 'high'],
  ];
  for (const [item, priority] of items) q.push(item, 1, priority, 0);
  t.same(serveAll(q), ['add-1', 'add-2', 'print-1', 'print-2', 'dump']);
  t.end();
});

t.test("one client's burst delays another client's single command by one turn", (t) => {
  const q = queue();
  for (let i = 0; i < 1000; i++) q.push(`a-add-${i}`, 1, 'high', 0);
  q.push('b-print', 2, 'normal', 0);
  const order = serveAll(q);
  t.equal(order.indexOf('b-print'), 1, 'A gets one turn, then B');
  t.equal(order.length, 1001);
  t.end();
});

t.test('each waiting client is served once per round, in the order they came', (t) => {
  const q = queue();
  for (let i = 0; i < 3; i++) {
    q.push(`a${i}`, 1, 'normal', 0);
    q.push(`b${i}`, 2, 'normal', 0);
    q.push(`c${i}`, 3, 'normal', 0);
  }
  t.same(serveAll(q), ['a0', 'b0', 'c0', 'a1', 'b1', 'c1', 'a2', 'b2', 'c2']);
  t.end();
});

t.test('within a round, clients whose next command is more urgent go first', (t) => {
  const q = queue();
  q.push('a-dump', 1, 'low', 0);
  q.push('b-print', 2, 'normal', 0);
  q.push('c-add', 3, 'high', 0);
  q.push('c-add-2', 3, 'high', 0);
  t.same(serveAll(q), ['c-add', 'b-print', 'a-dump', 'c-add-2']);
  t.end();
});

t.test('a client that sends one command at a time gets no extra turn in a round', (t) => {
  const q = queue();
  for (let i = 0; i < 5; i++) q.push(`a${i}`, 1, 'normal', 0);
  q.push('b0', 2, 'normal', 0);
  const first = q.next(0);
  t.equal(first?.item, 'a0');
  q.take(first!);
  const second = q.next(0);
  t.equal(second?.item, 'b0');
  q.take(second!);
  // B's queue is empty; it sends again at once, within the same round.
  q.push('b1', 2, 'high', 0);
  const third = q.next(0);
  t.equal(third?.item, 'b1', 'a new round: B is more urgent now');
  q.take(third!);
  q.push('b2', 2, 'high', 0);
  t.equal(q.next(0)?.item, 'a1', 'B was served in this round; A goes');
  t.end();
});

t.test('a low command rises one level per agingMs waited, so it is not starved', (t) => {
  const q = queue();
  q.push('dump', 1, 'low', 0);
  for (let i = 0; i < 3; i++) q.push(`add${i}`, 1, 'high', AGING_MS);
  t.equal(q.next(AGING_MS)?.item, 'add0', 'aged once, low is normal: high still goes first');
  t.equal(q.next(2 * AGING_MS)?.item, 'dump', 'aged twice it is high, and older');
  t.end();
});

t.test('oldest() is the entry that waited longest, whatever its client or priority', (t) => {
  const q = queue();
  q.push('first', 1, 'low', 10);
  q.push('second', 2, 'high', 20);
  q.push('third', 1, 'high', 30);
  t.equal(q.oldest()?.item, 'first');
  q.take(q.next(30)!);
  t.equal(q.oldest()?.item, 'first');
  t.end();
});

t.test('remove() takes an entry out once; sizes follow by priority', (t) => {
  const q = queue();
  const a = q.push('a', 1, 'high', 0);
  const b = q.push('b', 1, 'high', 0);
  const c = q.push('c', 1, 'high', 0);
  q.push('d', 2, 'low', 0);
  t.equal(q.sizeOf('high'), 3);
  t.equal(q.sizeOf('low'), 1);
  t.equal(q.sizeOf('normal'), 0);
  t.ok(q.remove(b), 'from the middle');
  t.notOk(q.remove(b), 'not twice');
  t.ok(q.remove(c), 'from the tail');
  t.ok(q.remove(a), 'from the head');
  t.equal(q.size, 1);
  t.equal(q.sizeOf('high'), 0);
  t.same(serveAll(q), ['d']);
  t.end();
});

t.test('a client that left before its turn does not keep a place', (t) => {
  const q = queue();
  q.push('a0', 1, 'normal', 0);
  q.push('a1', 1, 'normal', 0);
  const b = q.push('b0', 2, 'normal', 0);
  t.ok(q.remove(b));
  q.push('c0', 3, 'normal', 0);
  t.same(serveAll(q), ['a0', 'c0', 'a1']);
  t.end();
});

t.test('drain() empties the queue and returns the items oldest first', (t) => {
  const q = queue();
  q.push('a', 1, 'low', 0);
  q.push('b', 2, 'high', 1);
  q.push('c', 1, 'high', 2);
  t.same(q.drain(), ['a', 'b', 'c']);
  t.equal(q.size, 0);
  t.equal(q.next(0), undefined);
  t.end();
});
