import t from 'tap';
import { FairQueue } from '../../src/flow/fair-queue.js';
import type { QueueEntry } from '../../src/flow/fair-queue.js';
import type { Priority } from '../../src/flow/priority-rules.js';
import { seededRandom } from '../fixtures/bytes.js';

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

/**
 * The queue's order stated plainly, for the property test below: of the
 * entries whose client has not been served in this round, the one with the
 * most urgent aged priority, then of the client that joined first, then the
 * oldest. Clients join at their first push; one that empties before its turn,
 * or is empty when a round starts, leaves.
 */
class QueueModel {
  readonly entries: { item: string; clientId: number; level: number; at: number; seq: number }[] =
    [];
  order: number[] = [];
  readonly served = new Map<number, number>();
  round = 0;
  seq = 0;

  push(item: string, clientId: number, priority: Priority, at: number): void {
    if (!this.order.includes(clientId)) {
      this.order.push(clientId);
      this.served.set(clientId, this.round - 1);
    }
    const level = PRIORITY_LEVELS.indexOf(priority);
    this.entries.push({ item, clientId, level, at, seq: this.seq++ });
  }

  remove(item: string): void {
    const index = this.entries.findIndex((e) => e.item === item);
    const [entry] = this.entries.splice(index, 1);
    const { clientId } = entry!;
    if (this.entries.length === 0) this.order = [];
    else if (!this.#waits(clientId) && this.served.get(clientId)! < this.round)
      this.order = this.order.filter((c) => c !== clientId);
  }

  take(item: string): void {
    this.served.set(this.entries.find((e) => e.item === item)!.clientId, this.round);
    this.remove(item);
  }

  next(now: number): string | undefined {
    if (this.entries.length === 0) return undefined;
    const found = this.#best(now);
    if (found !== undefined) return found;
    this.round++;
    this.order = this.order.filter((c) => this.#waits(c));
    return this.#best(now);
  }

  oldest(): string | undefined {
    return this.entries[0]?.item;
  }

  #waits(clientId: number): boolean {
    return this.entries.some((e) => e.clientId === clientId);
  }

  #best(now: number): string | undefined {
    const key = (e: QueueModel['entries'][number]) => [
      Math.max(0, e.level - Math.floor((now - e.at) / AGING_MS)),
      this.order.indexOf(e.clientId),
      e.seq,
    ];
    const waiting = this.entries.filter((e) => this.served.get(e.clientId)! < this.round);
    waiting.sort((a, b) => {
      const [ka, kb] = [key(a), key(b)];
      return ka[0]! - kb[0]! || ka[1]! - kb[1]! || ka[2]! - kb[2]!;
    });
    return waiting[0]?.item;
  }
}

const PRIORITY_LEVELS: readonly Priority[] = ['high', 'normal', 'low'];

t.test('random pushes, serves and withdrawals: the order the model states', (t) => {
  const seed = Number(process.env['FAIR_QUEUE_SEED'] ?? Date.now() % 1_000_000);
  t.comment(`seed ${seed} (FAIR_QUEUE_SEED=${seed} replays it)`);
  const random = seededRandom(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  for (let run = 0; run < 40; run++) {
    const q = queue();
    const model = new QueueModel();
    const live = new Map<string, QueueEntry<string>>();
    let now = 0;
    // One priority in half the runs: the common case, where a dequeue stops at the first client.
    const priorities = run % 2 === 0 ? PRIORITY_LEVELS : (['normal'] as const);
    for (let step = 0; step < 300; step++) {
      now += pick(4) === 0 ? pick(3 * AGING_MS) : pick(50);
      const op = pick(10);
      if (op < 5) {
        const item = `i${step}`;
        const priority = priorities[pick(priorities.length)]!;
        const clientId = pick(8);
        live.set(item, q.push(item, clientId, priority, now));
        model.push(item, clientId, priority, now);
      } else if (op < 8) {
        const entry = q.next(now);
        const expected = model.next(now);
        if (entry?.item !== expected) {
          t.fail(`run ${run} step ${step}: next is ${entry?.item}, the model says ${expected}`);
          return t.end();
        }
        if (entry !== undefined) {
          q.take(entry);
          model.take(entry.item);
          live.delete(entry.item);
        }
      } else if (live.size > 0) {
        const item = [...live.keys()][pick(live.size)]!;
        q.remove(live.get(item)!);
        model.remove(item);
        live.delete(item);
      }
      if (q.oldest()?.item !== model.oldest() || q.size !== model.entries.length) {
        t.fail(`run ${run} step ${step}: oldest or size differ from the model`);
        return t.end();
      }
    }
    t.same(
      q.drain(),
      model.entries.map((e) => e.item),
      `run ${run}: drain, oldest first`,
    );
  }
  t.end();
});
