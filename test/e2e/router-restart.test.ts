/**
 * A router that restarts must not keep billing out. Twenty
 * billing clients add hotspot users in closed loops through rosgate with
 * every stage at its default (policy, audit in a temp dir, cache, flow with
 * the breaker on); the router is killed and listens again 0.4 s later.
 *
 * The product requirement is that every client has a good answer within
 * 0.5 s of the router listening again. Timing on a loaded CI machine is not
 * the router's, so the test asserts what makes that true (the circuit never
 * opens, no client gets a breaker refusal once the router listens again,
 * every client gets a good answer) and logs the measured times. The one time
 * bound, ACQUIRE_TIMEOUT (5 s), is generous: a command that waited longer
 * for a router session would have been refused anyway.
 *
 * Measured on the 2-core machine shared with seven other helpers' test runs
 * (load average 12 to 20), 14 runs: the slowest client had its first good
 * answer 45 to 156 ms after the router listened again (median client 20 to
 * 122 ms); the circuit never opened and the restart counted one failure.
 * In the second test the circuit closed 51 to 105 ms after the router took
 * sessions again (the pool's reconnect delay, then one probe).
 * Before the breaker listened to the pool, the circuit opened on the lost commands and every client
 * was refused for the 60 s reset timeout.
 */
import { performance } from 'node:perf_hooks';
import type { RouterOSAPI } from 'node-routeros';
import t from 'tap';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { eventually } from '../fixtures/eventually.js';
import { text } from '../fixtures/raw-client.js';
import { loggedIn, startStack } from '../fixtures/stack.js';
import { freePort } from '../fixtures/free-port.js';

const CLIENTS = 20;
const DOWN_MS = 400;
/** The pool's default `acquireTimeoutMs`: the longest any command waits for a session. */
const ACQUIRE_TIMEOUT_MS = 5000;
const CIRCUIT_OPEN = /circuit open/;

interface Answer {
  /** performance.now() when the answer arrived. */
  readonly at: number;
  /** The trap's message; undefined for a good answer. */
  readonly trap: string | undefined;
}

/** One billing client: adds a hotspot user, waits for the answer, adds the next. */
class BillingLoop {
  readonly answers: Answer[] = [];
  #isStopped = false;
  readonly #done: Promise<void>;

  constructor(api: RouterOSAPI, name: string) {
    this.#done = this.#run(api, name);
  }

  async #run(api: RouterOSAPI, name: string): Promise<void> {
    for (let n = 0; !this.#isStopped; n++) {
      let trap: string | undefined;
      try {
        await api.write('/ip/hotspot/user/add', [`=name=${name}-${n}`, '=password=x']);
      } catch (err) {
        trap = (err as Error).message;
      }
      this.answers.push({ at: performance.now(), trap });
      // A refusal can come at once: never spin without letting I/O in.
      if (trap !== undefined) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** The first good answer at or after `since`. */
  firstGoodAfter(since: number): Answer | undefined {
    return this.answers.find((a) => a.at >= since && a.trap === undefined);
  }

  stop(): Promise<void> {
    this.#isStopped = true;
    return this.#done;
  }
}

t.test(
  'a router that restarts in 0.4 s: the circuit stays closed and every client has a good answer soon after it listens again',
  async (t) => {
    const port = await freePort();
    const simOptions = { user: 'admin', password: 'secret', version: '7.17', port };
    const stack = await startStack(t, { sim: simOptions });
    let sim: Simulator = stack.sim;
    t.teardown(() => sim.close());
    const apis = await Promise.all(Array.from({ length: CLIENTS }, () => stack.client()));
    const loops = apis.map((api, i) => new BillingLoop(api, `c${i}`));
    t.teardown(() => Promise.all(loops.map((l) => l.stop())));
    await eventually(
      () => loops.every((l) => l.answers.some((a) => a.trap === undefined)),
      'every client to have added a user',
    );

    const killedAt = performance.now();
    await sim.close();
    await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
    sim = await startSimulator(simOptions);
    const listeningAt = performance.now();

    await eventually(
      () => loops.every((l) => l.firstGoodAfter(listeningAt) !== undefined),
      'every client to have a good answer from the restarted router',
    );
    await Promise.all(loops.map((l) => l.stop()));

    const latencies = loops.map((l) => (l.firstGoodAfter(listeningAt) as Answer).at - listeningAt);
    const sorted = [...latencies].sort((a, b) => a - b);
    t.comment(
      `router down ${Math.round(listeningAt - killedAt)} ms; first good answer after it listened again: ` +
        `median ${Math.round(sorted[CLIENTS / 2] as number)} ms, slowest ${Math.round(sorted.at(-1) as number)} ms ` +
        '(product requirement 500 ms)',
    );
    t.ok(
      latencies.every((ms) => ms < ACQUIRE_TIMEOUT_MS),
      'no client waited for the router longer than a command may wait for a session',
    );
    const refusedAfter = loops.flatMap((l) =>
      l.answers.filter((a) => a.at >= listeningAt && CIRCUIT_OPEN.test(a.trap ?? '')),
    );
    t.same(refusedAfter, [], 'no breaker refusal once the router listened again');
    const refused = loops.flatMap((l) => l.answers.filter((a) => CIRCUIT_OPEN.test(a.trap ?? '')));
    t.same(refused, [], 'nor while it was away');
    const stats = stack.router.flow.stats();
    t.equal(stats.breakerTransitions.open, 0, 'the circuit never opened');
    t.ok(
      stats.breakerFailures <= 1,
      `the restart counted as one failure (${stats.breakerFailures})`,
    );
    const lost = loops.flatMap((l) => l.answers.filter((a) => a.trap !== undefined));
    t.comment(
      `${lost.length} commands lost with the dropped sessions: ${[...new Set(lost.map((a) => a.trap))].join('; ')}`,
    );
    t.ok(
      (sim.counters.commands['/ip/hotspot/user/add'] ?? 0) >= CLIENTS,
      'the restarted router received the adds',
    );
  },
);

t.test(
  'a router down long enough opens the circuit; once the pool logs in again it half-opens at once and its probe closes it',
  async (t) => {
    // Every stage at its default but the monitoring window: a router
    // unreachable for that long opens the circuit, here in 0.3 s, not 10.
    const stack = await startStack(t, { config: { flow: { breaker: { monitoringMs: 300 } } } });
    const c = await loggedIn(t, stack);
    const add = (name: string, tag: string) =>
      c.call(['/ip/hotspot/user/add', `=name=${name}`, '=password=x', `.tag=${tag}`]);
    t.match(text(await add('before', 'a')), [/^!done \.tag=a =ret=\*\w+$/], 'the router answers');

    stack.sim.faults.refuseConnections = true;
    stack.sim.faults.dropAll();
    await eventually(() => stack.router.flow.breakerState === 'open', 'the circuit to open');
    const refusal = text(await add('while-down', 'b'))[0] ?? '';
    t.match(
      refusal,
      /^!trap \.tag=b =message=router unavailable \(circuit open, retry in \d+s\): router .+$/,
      'a router that stays down still opens the circuit: commands are refused at once',
    );
    t.ok(
      Number(/retry in (\d+)s/.exec(refusal)?.[1]) > 30,
      'for the reset timeout, as long as nothing shows the router back',
    );

    const backAt = performance.now();
    stack.sim.faults.refuseConnections = false;
    await eventually(() => stack.router.flow.breakerState === 'closed', 'the circuit to close');
    t.comment(
      `circuit closed ${Math.round(performance.now() - backAt)} ms after the router accepted ` +
        'sessions again (resetTimeoutMs is 60000)',
    );
    t.match(text(await add('after', 'c')), [/^!done \.tag=c =ret=\*\w+$/], 'commands pass again');

    const events = stack.app.metrics
      .events()
      .filter((e) => e.kind === 'breaker')
      .map((e) => e.message);
    t.match(
      events,
      [
        /^circuit closed -> open: router unreachable for \d+ms \(last ROSGATE_/,
        'circuit open -> half-open: router reachable again (login)',
        'circuit half-open -> closed: router answered while half-open',
      ],
      'it opened for the outage, half-opened when a session logged in, and closed on the probe',
    );
    t.equal(stack.router.flow.stats().breakerFailures, 1, 'the outage was one failure');
  },
);
