import t, { type Test } from 'tap';
import { searchAudit, type AuditRecord } from '../../src/audit/index.js';
import { eventually } from '../fixtures/eventually.js';
import { text, type RawClient, taggedWith } from '../fixtures/raw-client.js';
import { loggedIn, startStack, type Stack } from '../fixtures/stack.js';

/**
 * Flow settings small enough for a test: 3 failures (among at least 3
 * commands) within 5 s open the circuit for `resetTimeoutMs`, and a command
 * with no reply for `commandIdleTimeoutMs` times out. Every command reaches
 * the flow stage (no cache) and none waits for a token.
 */
function smallBreaker(resetTimeoutMs: number, commandIdleTimeoutMs = 100): Record<string, unknown> {
  return {
    cache: { enabled: false },
    flow: {
      commandIdleTimeoutMs,
      rateLimit: { enabled: false },
      breaker: { threshold: 3, volumeThreshold: 3, resetTimeoutMs, monitoringMs: 5000 },
    },
  };
}

/**
 * A stack with the small breaker whose router session is open, so the first
 * command does not spend its short idle timeout waiting for a login.
 */
async function startSmall(
  t: Test,
  resetTimeoutMs: number,
  commandIdleTimeoutMs?: number,
): Promise<Stack> {
  const stack = await startStack(t, {
    config: smallBreaker(resetTimeoutMs, commandIdleTimeoutMs),
  });
  await eventually(() => stack.router.pool.stats.ready > 0, 'a router session to open');
  return stack;
}

const TIMED_OUT = (tag: string): string[] => [
  `!trap .tag=${tag} =message=router did not answer in time`,
  `!done .tag=${tag}`,
];

const CIRCUIT_OPEN =
  /^!trap \.tag=\S+ =message=router unavailable \(circuit open, retry in (\d+)s\): router did not answer in time$/;

/** Stops the router answering and lets three commands time out, which opens the circuit. */
async function openCircuit(t: Test, stack: Stack, c: RawClient): Promise<void> {
  stack.sim.faults.stopAnswering = true;
  for (const tag of ['t1', 't2', 't3']) {
    t.same(
      text(await c.call(['/ip/address/print', `.tag=${tag}`])),
      TIMED_OUT(tag),
      `command ${tag} times out with a trap`,
    );
  }
}

t.test(
  'a router that stops answering: commands time out, the circuit opens, and clients get fast traps that never reach the router',
  async (t) => {
    const stack = await startSmall(t, 60_000);
    const [a, b] = await Promise.all([loggedIn(t, stack), loggedIn(t, stack)]);
    t.equal(
      String((await a.call(['/system/identity/print', '.tag=w'])).at(-1)),
      '!done .tag=w',
      'the router answers at first',
    );

    await openCircuit(t, stack, a);
    t.equal(stack.router.flow.breakerState, 'open', 'three timeouts open the circuit');

    // The router answers again, but the circuit stays open for its reset timeout.
    stack.sim.faults.stopAnswering = false;
    const commandsBefore = { ...stack.sim.counters.commands };
    const cancelsBefore = stack.sim.counters.cancels;
    for (const c of [a, b]) for (let i = 0; i < 5; i++) c.send(['/ip/address/print', `.tag=o${i}`]);
    for (const c of [a, b]) {
      const replies = text(await c.readUntil((_, i) => i === 9, 'ten replies'));
      for (let i = 0; i < 5; i++) {
        const [trap, done] = replies.filter(taggedWith(`o${i}`));
        const seconds = Number(CIRCUIT_OPEN.exec(trap ?? '')?.[1]);
        t.ok(seconds >= 1 && seconds <= 60, `o${i}: ${trap} says when to retry`);
        t.equal(done, `!done .tag=o${i}`, 'then done');
      }
    }
    t.same(stack.sim.counters.commands, commandsBefore, 'no refused command reached the router');
    t.equal(stack.sim.counters.cancels, cancelsBefore, 'nor any cancel for them');

    const stats = stack.router.flow.stats();
    t.equal(stats.refusals.breakerOpen, 10, 'ten refusals while open');
    t.equal(stats.timeouts, 3, 'three timeouts');
    t.equal(stats.breakerFailures, 3, 'counted as three breaker failures');
    t.equal(stats.breakerState, 1, 'the gauge says open');
    const timedOut = stack.logs.filter((l) => l['msg'] === 'command timed out');
    t.same(
      timedOut.map((l) => l['path']),
      ['/ip/address', '/ip/address', '/ip/address'],
      'each timeout is logged with its path',
    );
  },
);

t.test(
  'a command the router is slow to start is cancelled on the router when it times out, and never runs',
  async (t) => {
    const stack = await startSmall(t, 60_000);
    const c = await loggedIn(t, stack);
    stack.sim.faults.latencyMs = 1000;
    t.same(
      text(await c.call(['/ip/hotspot/user/add', '=name=late', '=password=x', '.tag=a'])),
      TIMED_OUT('a'),
      'the add times out with a trap',
    );
    await eventually(() => stack.sim.counters.cancels === 1, 'the router to receive the cancel');
    stack.sim.faults.latencyMs = 0;
    t.same(
      text(await c.call(['/ip/hotspot/user/print', '?name=late', '.tag=p'])),
      ['!done .tag=p'],
      'the router never added the user',
    );
    t.equal(
      stack.router.flow.breakerState,
      'closed',
      'one timeout alone does not open the circuit',
    );
    t.equal(stack.router.flow.stats().breakerFailures, 1, 'though it counts as a failure');
  },
);

t.test(
  'the router comes back: the half-open probe closes the circuit, and every transition is in the audit trail and on the dashboard',
  async (t) => {
    const stack = await startSmall(t, 40);
    const c = await loggedIn(t, stack);
    t.equal(
      String((await c.call(['/system/identity/print', '.tag=w'])).at(-1)),
      '!done .tag=w',
      'the router answers at first',
    );
    await openCircuit(t, stack, c);
    t.not(stack.router.flow.breakerState, 'closed', 'the circuit is not closed');
    // Open or half-open with a probe going unanswered: refused alike, at once.
    t.match(
      String((await c.call(['/ip/address/print', '.tag=r']))[0]),
      CIRCUIT_OPEN,
      'a command meanwhile is refused',
    );

    const probesBefore = stack.sim.counters.commands['/system/identity/print'] ?? 0;
    stack.sim.faults.stopAnswering = false;
    await eventually(() => stack.router.flow.breakerState === 'closed', 'the circuit to close');
    t.ok(
      (stack.sim.counters.commands['/system/identity/print'] ?? 0) > probesBefore,
      'the probe was an identity print the router answered',
    );
    t.same(
      text(await c.call(['/ip/address/print', '=.proplist=address', '.tag=x'])).at(-1),
      '!done .tag=x',
      'commands pass again on the same connection',
    );
    const transitions = stack.router.flow.stats().breakerTransitions;
    t.ok(transitions.open >= 1 && transitions.halfOpen >= 1, 'it opened and turned half-open');
    t.equal(transitions.closed, 1, 'and closed once');

    const events = stack.app.metrics
      .events()
      .filter((e) => e.kind === 'breaker')
      .map((e) => e.message);
    t.equal(
      events[0],
      'circuit closed -> open: 3 failures in 5000ms (last ROSGATE_COMMAND_TIMEOUT)',
      'the dashboard shows the circuit opening and why',
    );
    t.equal(
      events[1],
      'circuit open -> half-open: reset timeout elapsed (40ms)',
      'and turning half-open',
    );
    t.equal(
      events.at(-1),
      'circuit half-open -> closed: router answered while half-open',
      'and closing',
    );

    const dir = stack.app.config.audit.dir;
    await stack.app.stop(0);
    const records: AuditRecord[] = [];
    for await (const record of searchAudit(dir, { kind: 'breaker' })) records.push(record);
    const changes = records.map(
      (r) => `${String(r.details?.['from'])} -> ${String(r.details?.['to'])}`,
    );
    t.same(changes.slice(0, 2), ['closed -> open', 'open -> half-open'], 'audited as it opened');
    t.equal(changes.at(-1), 'half-open -> closed', 'and as it closed');
    t.same(
      records.map((r) => r.router),
      records.map(() => stack.router.config.name),
      'each record names the router',
    );
    t.equal(records[0]?.result, 'failure', 'opening is recorded as a failure');
    t.equal(records.at(-1)?.result, 'success', 'closing as a success');
  },
);

t.test('100 duplicate-add traps leave the circuit closed', async (t) => {
  // A burst of 100 may wait for a router session longer than the short idle timeout.
  const stack = await startSmall(t, 60_000, 10_000);
  const clients = await Promise.all([0, 1, 2, 3].map(() => loggedIn(t, stack)));
  const add = ['/ip/hotspot/user/add', '=name=dup', '=password=x'];
  t.match(
    String((await clients[0]!.call([...add, '.tag=first'])).at(-1)),
    /^!done \.tag=first =ret=\*\w+$/,
    'the first add makes the user',
  );

  const replies = await Promise.all(
    clients.map(async (c) => {
      for (let i = 0; i < 25; i++) c.send([...add, `.tag=d${i}`]);
      let dones = 0;
      return text(await c.readUntil((s) => s.command === '!done' && ++dones === 25, '25 dones'));
    }),
  );
  const traps = replies.flat().filter((r) => r.startsWith('!trap'));
  t.equal(traps.length, 100, 'every duplicate add is trapped by the router');
  t.ok(
    traps.every((r) =>
      /^!trap \.tag=d\d+ =message=failure: already have user with this name/.test(r),
    ),
    "with the router's own message",
  );
  t.equal(stack.sim.counters.commands['/ip/hotspot/user/add'], 101, 'all reached the router');
  const stats = stack.router.flow.stats();
  t.equal(stack.router.flow.breakerState, 'closed', 'a trap is an answer, not a failure');
  t.equal(stats.breakerFailures, 0, 'no failure was counted');
  t.same(stats.breakerTransitions, { open: 0, halfOpen: 0, closed: 0 }, 'and no transition made');
});

t.test(
  'streams that fill the router sessions of a router that answers do not open the circuit',
  async (t) => {
    // One session with room for two commands: two listens take it, so prints
    // wait for a session in vain while the router answers everything.
    const stack = await startStack(t, {
      router: { pool: { min: 1, max: 1, maxInFlightPerSession: 2, acquireTimeoutMs: 50 } },
      config: smallBreaker(60_000),
    });
    await eventually(() => stack.router.pool.stats.ready > 0, 'a router session to open');
    const raw = await loggedIn(t, stack);
    raw.send(['/ip/hotspot/user/listen', '.tag=l1']);
    raw.send(['/ip/address/listen', '.tag=l2']);
    await eventually(() => stack.router.pool.stats.inFlight === 2, 'both listens to run');
    for (let i = 0; i < 5; i++) {
      t.match(text(await raw.call(['/system/identity/print', `.tag=p${i}`])), [
        /!trap .tag=p\d =message=no router session available in time/,
        `!done .tag=p${i}`,
      ]);
    }
    t.equal(stack.router.flow.breakerState, 'closed', 'the router answered all along');
    t.same(text(await raw.call(['/cancel', '=tag=l1', '.tag=c'])).at(-1), '!done .tag=c');
    t.same(text(await raw.untilDone('l1')).at(-1), '!done .tag=l1', 'the listen ends: room again');
    t.match(text(await raw.call(['/system/identity/print', '.tag=after'])), [
      /!re .tag=after =name=/,
      '!done .tag=after',
    ]);
  },
);

t.test(
  "a router at its max-sessions refuses the pool's growth: the circuit stays closed and every command is answered",
  async (t) => {
    // The router lets rosgate have 2 API sessions (another app holds the
    // rest of its max-sessions); the pool may open 5. A router lost for
    // 300 ms would open the circuit.
    const stack = await startStack(t, {
      sim: { maxSessions: 2 },
      config: { cache: { enabled: false }, flow: { breaker: { monitoringMs: 300 } } },
    });
    stack.sim.faults.latencyMs = 30;
    const clients = await Promise.all(Array.from({ length: 8 }, () => loggedIn(t, stack)));
    const answers = await Promise.all(
      clients.map(async (c, n) => {
        const replies: string[] = [];
        for (let i = 0; i < 25; i++) {
          replies.push(text(await c.call(['/system/identity/print', `.tag=c${n}-${i}`])).join(' '));
        }
        return replies;
      }),
    );
    const all = answers.flat();
    t.ok(stack.sim.counters.connectionsRefused > 0, 'the router refused sessions past its limit');
    t.equal(all.filter((r) => r.includes('circuit open')).length, 0, 'no circuit-open trap');
    t.same(
      all.filter((r) => !/^!re \S+ =name=\S+ !done \S+$/.test(r)),
      [],
      'every command is answered by the router',
    );
    t.equal(stack.router.flow.stats().breakerTransitions.open, 0, 'the circuit never opened');
    t.equal(stack.router.pool.stats.ready, 2, 'the pool works with the sessions it has');
  },
);
