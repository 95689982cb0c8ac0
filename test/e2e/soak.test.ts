/**
 * A seeded fault soak: clients of every style (untagged
 * pipelined, tagged, streams, cancels, disconnects) while the router drops
 * its sessions, hangs, slows down and restarts, over and over. The process
 * stays up, every command gets an answer, and at the end nothing is left
 * over: no command, waiter, stream or router session.
 * ROSGATE_SOAK_SEED replays a run.
 */
import t from 'tap';
import type { Sentence, WordInput } from '../../src/protocol/index.js';
import {
  startSimulator,
  type Simulator,
  type SimulatorOptions,
} from '../../src/simulator/index.js';
import { randomInt, seededRandom } from '../fixtures/bytes.js';
import { eventually } from '../fixtures/eventually.js';
import { RawClient } from '../fixtures/raw-client.js';
import { loggedIn, startStack, type Stack } from '../fixtures/stack.js';
import { freePort } from '../fixtures/free-port.js';

const SEED = Number(process.env.ROSGATE_SOAK_SEED ?? Date.now() % 1_000_000);
/** How long the faults go on. */
const CHAOS_MS = 8000;
const WORKERS = 6;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Timers keeping the process alive now. */
const activeTimers = (): number =>
  process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** The router: the simulator, restartable on its port. */
class Router {
  sim: Simulator;
  readonly #options: SimulatorOptions;
  restarts = 0;

  constructor(sim: Simulator, options: SimulatorOptions) {
    this.sim = sim;
    this.#options = options;
  }

  async restart(downMs: number): Promise<void> {
    await this.sim.close();
    await sleep(downMs);
    this.sim = await startSimulator(this.#options);
    this.restarts++;
  }
}

/** Drops, hangs, slows and restarts the router until `until`. */
async function chaos(router: Router, random: () => number, until: number): Promise<string[]> {
  const done: string[] = [];
  while (Date.now() < until) {
    await sleep(randomInt(random, 150, 450));
    const { faults } = router.sim;
    const pick = randomInt(random, 0, 4);
    if (pick === 0) {
      faults.dropAll();
      done.push('drop');
    } else if (pick === 1) {
      // Shorter than the router timeout, the commands it swallowed are
      // given up by rosgate; longer, the session itself is.
      faults.stopAnswering = true;
      await sleep(randomInt(random, 100, 1000));
      router.sim.faults.stopAnswering = false;
      done.push('hang');
    } else if (pick === 2) {
      faults.latencyMs = randomInt(random, 10, 60);
      await sleep(randomInt(random, 100, 400));
      router.sim.faults.latencyMs = 0;
      done.push('slow');
    } else if (pick === 3) {
      await router.restart(randomInt(random, 50, 300));
      done.push('restart');
    } else {
      faults.refuseConnections = true;
      faults.dropAll();
      await sleep(randomInt(random, 50, 250));
      router.sim.faults.refuseConnections = false;
      done.push('outage');
    }
  }
  return done;
}

const STYLES = ['untagged', 'tagged', 'stream', 'bareCancel', 'disconnect'] as const;
type Style = (typeof STYLES)[number];

/** One client connection running commands in one style after another. */
class Worker {
  readonly #stack: Stack;
  readonly #random: () => number;
  readonly #name: string;
  #client: RawClient | undefined;
  #tags = 0;
  /** Commands sent (each one read back to its `!done`, unless its client left on purpose). */
  sent = 0;
  readonly styles: Record<string, number> = {};

  constructor(stack: Stack, random: () => number, name: string) {
    this.#stack = stack;
    this.#random = random;
    this.#name = name;
  }

  async run(until: number): Promise<void> {
    while (Date.now() < until) {
      const style = STYLES[randomInt(this.#random, 0, STYLES.length - 1)] as Style;
      this.styles[style] = (this.styles[style] ?? 0) + 1;
      await this[style](await this.#connection());
    }
  }

  async close(): Promise<void> {
    await this.#client?.close();
  }

  async #connection(): Promise<RawClient> {
    if (this.#client !== undefined) return this.#client;
    const client = await RawClient.connect(this.#stack.port, { readTimeoutMs: 8000 });
    const login = await client.login('admin', 'secret');
    if (String(login[0]) !== '!done') throw new Error(`login refused: ${String(login[0])}`);
    this.#client = client;
    return client;
  }

  #tag(): string {
    return `${this.#name}-${this.#tags++}`;
  }

  #send(c: RawClient, words: WordInput[]): void {
    this.sent++;
    c.send(words);
  }

  /** Reads until every tag in `tags` has its `!done` (undefined counts untagged ones). */
  async #until(c: RawClient, tags: (string | undefined)[]): Promise<Sentence[]> {
    const waiting = [...tags];
    return c.readUntil(
      (s) => {
        if (s.command !== '!done') return false;
        const at = waiting.indexOf(s.tagString);
        if (at >= 0) waiting.splice(at, 1);
        return waiting.length === 0;
      },
      `the !done of ${tags.map((tag) => tag ?? 'untagged').join(', ')}`,
    );
  }

  async untagged(c: RawClient): Promise<void> {
    const commands = [
      ['/system/identity/print'],
      ['/ip/hotspot/user/print', '=.proplist=name'],
      ['/system/resource/print'],
    ];
    const count = randomInt(this.#random, 2, 3);
    for (let i = 0; i < count; i++) this.#send(c, commands[i] as string[]);
    await this.#until(
      c,
      Array.from({ length: count }, () => undefined),
    );
  }

  async tagged(c: RawClient): Promise<void> {
    const tags = Array.from({ length: randomInt(this.#random, 1, 4) }, () => this.#tag());
    for (const tag of tags) this.#send(c, ['/ip/hotspot/user/print', `.tag=${tag}`]);
    await this.#until(c, tags);
  }

  async stream(c: RawClient): Promise<void> {
    const tag = this.#tag();
    this.#send(c, ['/interface/monitor-traffic', '=interface=ether1', `.tag=${tag}`]);
    // A client watches for a while, then stops the stream (which may have
    // ended already, or been lost by a router that hung).
    await sleep(randomInt(this.#random, 0, 150));
    c.send(['/cancel', `=tag=${tag}`, `.tag=c${tag}`]);
    await this.#until(c, [tag, `c${tag}`]);
  }

  async bareCancel(c: RawClient): Promise<void> {
    const streams = [this.#tag(), this.#tag()];
    for (const tag of streams)
      this.#send(c, ['/interface/monitor-traffic', '=interface=ether2', `.tag=${tag}`]);
    await sleep(randomInt(this.#random, 0, 30));
    const cancel = `c${this.#tag()}`;
    c.send(['/cancel', `.tag=${cancel}`]);
    await this.#until(c, [...streams, cancel]);
  }

  async disconnect(c: RawClient): Promise<void> {
    c.send(['/interface/monitor-traffic', '=interface=ether3', `.tag=${this.#tag()}`]);
    c.send(['/ip/hotspot/user/print', `.tag=${this.#tag()}`]);
    c.send(['/system/identity/print']);
    await sleep(randomInt(this.#random, 0, 30));
    this.#client = undefined;
    await c.close();
  }
}

t.test(`a fault soak leaves rosgate up and nothing left over (seed ${SEED})`, async (t) => {
  const escaped: unknown[] = [];
  const monitor = (err: unknown): void => {
    escaped.push(err);
  };
  process.on('uncaughtExceptionMonitor', monitor);
  t.teardown(() => {
    process.off('uncaughtExceptionMonitor', monitor);
  });

  const timersBefore = activeTimers();
  const random = seededRandom(SEED);
  const simOptions: SimulatorOptions = {
    user: 'admin',
    password: 'secret',
    version: '7.17',
    port: await freePort(),
    streamIntervalMs: 20,
    hotspotUsers: 20,
  };
  const stack = await startStack(t, {
    sim: simOptions,
    router: {
      timeoutMs: 600,
      pool: {
        min: 1,
        max: 3,
        acquireTimeoutMs: 1000,
        reconnectInitialDelayMs: 20,
        reconnectMaxDelayMs: 200,
        maxInFlightPerSession: 16,
      },
    },
    config: {
      limits: { maxClientsPerAddress: 1000 },
      policy: { lockout: { maxAttempts: 100_000 } },
      flow: { rateLimit: { enabled: false }, breaker: { resetTimeoutMs: 200 } },
    },
  });
  const router = new Router(stack.sim, simOptions);
  t.teardown(() => router.sim.close());

  const until = Date.now() + CHAOS_MS;
  const workers = Array.from(
    { length: WORKERS },
    (_, i) => new Worker(stack, seededRandom(SEED * 31 + i), `w${i}`),
  );
  const [faults] = await Promise.all([
    chaos(router, random, until),
    ...workers.map((w) =>
      w.run(until).catch((err: unknown) => {
        throw new Error(`seed ${SEED}: ${String(err)}`, { cause: err });
      }),
    ),
  ]);
  t.ok(faults.length >= 5, `faults: ${faults.join(' ')} (seed ${SEED})`);
  const sent = workers.reduce((n, w) => n + w.sent, 0);
  t.ok(sent > 0, `${sent} commands sent in every style (seed ${SEED})`);
  for (const style of STYLES)
    t.ok(
      workers.some((w) => (w.styles[style] ?? 0) > 0),
      `${style} clients ran (seed ${SEED})`,
    );

  await Promise.all(workers.map((w) => w.close()));
  // The cache keeps its own listen running for as long as it holds replies:
  // turning it off ends it, so what is left is what the clients left.
  t.match(await stack.app.reconfigure('cache', { enabled: false }), { ok: true });
  const { pool, listener } = stack.router;
  await eventually(
    () => listener.sessions.size === 0,
    `every client session to close (seed ${SEED})`,
  );
  await eventually(
    () => pool.stats.inFlight === 0 && pool.stats.waiting === 0,
    `no command or waiter left in the pool (seed ${SEED})`,
  );
  const flow = stack.router.flow.stats();
  t.same(
    { inFlight: flow.inFlight, streams: flow.streams, queued: flow.queued },
    { inFlight: 0, streams: 0, queued: { high: 0, normal: 0, low: 0 } },
    `nothing left in the flow stage (seed ${SEED})`,
  );
  await eventually(
    () => router.sim.activeStreams() === 0,
    `no stream left on the router (seed ${SEED})`,
  );
  await eventually(
    () => router.sim.counters.sessionsNow === pool.stats.ready + pool.stats.connecting,
    `no router session but the pool's (seed ${SEED})`,
  );

  const witness = await loggedIn(t, stack);
  t.equal(
    String((await witness.call(['/system/identity/print', '.tag=end'])).at(-1)),
    '!done .tag=end',
    `rosgate still serves (seed ${SEED})`,
  );
  await witness.close();
  await stack.app.stop(0);
  await router.sim.close();
  await eventually(
    () => activeTimers() <= timersBefore,
    `no timer left running once rosgate has stopped (seed ${SEED})`,
  );
  t.same(escaped, [], `no exception escaped to the process (seed ${SEED})`);
});
