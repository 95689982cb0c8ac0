/**
 * Proxy benchmark: C billing clients (default 50) against the simulator, once
 * straight and once through rosgate, in one process on 127.0.0.1.
 *
 * Each client works like billing software: one untagged command at a time
 * over its own connection, with a mix of
 *   45%   /system/identity/print
 *   35%   /ip/hotspot/user/print ?name=<one of 500 seeded users>
 *   12%   /ppp/active/print
 *    7.5% /ip/hotspot/user/add, then /ip/hotspot/user/remove of what it added
 *    0.5% /ip/hotspot/user/print of every user (~500 rows)
 * (shares of operations; an add+remove pair is two commands).
 *
 * Four timed phases, each after its own warm-up:
 *   1. closed loop, direct: every client sends its next command as soon as
 *      the previous one is done; commands/s and p50/p99 latency;
 *   2. the same through rosgate (pool of `--pool` sessions);
 *   3. open loop, direct: a fixed offered load (`--rate`, default 1,000
 *      commands/s) spread evenly over the clients; p50/p99;
 *   4. the same through rosgate.
 *
 * Clients are the test suite's RawClient (rosgate's own Decoder) sending
 * pre-encoded sentences (bench/billing-client.ts), so client cost stays low.
 * Everything (clients, rosgate, simulator) shares one Node thread: rosgate's
 * cost shows up as lost throughput and added latency one for one, which is
 * stricter than a deployment where the router is another machine.
 *
 * Run: npm run bench -- proxy [--clients N] [--seconds N] [--pool N] [--rate N]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createApp, type App, type RouterRuntime } from '../src/app.js';
import { validateConfig } from '../src/config/index.js';
import { createLogger } from '../src/logger.js';
import { encodeSentence } from '../src/protocol/index.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import type { BenchResult } from './run.js';
import { percentile } from './stats.js';
import { Prng } from '../src/simulator/prng.js';
import type { RawClient } from '../test/fixtures/raw-client.js';
import { billingClient, names, sendCommand, type Reply } from './billing-client.js';
import { numberArg } from './args.js';

const USER = 'admin';
const PASSWORD = 'secret';
const HOTSPOT_USERS = 500;
/** Longest a single command may take before the run is declared broken. */
const COMMAND_TIMEOUT_MS = 10_000;

// -- arguments ---------------------------------------------------------------

interface Options {
  clients: number;
  seconds: number;
  warmupSeconds: number;
  poolMax: number;
  rate: number;
  /** Run the simulator on this thread instead of in a child process. */
  isSimInProcess: boolean;
}

function parseOptions(args: readonly string[]): Options {
  const seconds = numberArg(args, 'seconds', 5, 0.5, 60);
  return {
    clients: Math.round(numberArg(args, 'clients', 50, 1, 500)),
    seconds,
    warmupSeconds: Math.min(1, seconds / 2),
    poolMax: Math.round(numberArg(args, 'pool', 5, 1, 100)),
    rate: numberArg(args, 'rate', 1000, 1, 100_000),
    isSimInProcess: args.includes('--sim-in-process'),
  };
}

// -- the billing mix ------------------------------------------------------------

const KINDS = [
  'identity',
  'userByName',
  'pppActive',
  'userAdd',
  'userRemove',
  'userPrintAll',
] as const;
type Kind = (typeof KINDS)[number];

/** Deterministic PRNG (the simulator's mulberry32) so every run sends the same mix. */
function prng(seed: number): () => number {
  const random = new Prng(seed);
  return () => random.next();
}

const IDENTITY = encodeSentence(['/system/identity/print']);
const PPP_ACTIVE = encodeSentence(['/ppp/active/print']);
const USER_PRINT_ALL = encodeSentence(['/ip/hotspot/user/print']);

/** Sentences prepared before timing so the clients spend little per command. */
interface Mix {
  userByName: readonly Buffer[];
}

/**
 * Runs one client's share of the mix. The next command is chosen from the
 * PRNG, except that an add is always followed by the remove of its id.
 */
class BillingWorker {
  readonly client: RawClient;
  readonly #mix: Mix;
  readonly #random: () => number;
  readonly #id: number;
  #added = 0;
  #removeId: string | undefined;

  constructor(client: RawClient, mix: Mix, id: number) {
    this.client = client;
    this.#mix = mix;
    this.#id = id;
    this.#random = prng(0xb111 + id);
  }

  /** Send the next command of the mix and check its reply; returns its kind. */
  async step(): Promise<{ kind: Kind; reply: Reply }> {
    if (this.#removeId !== undefined) {
      const id = this.#removeId;
      this.#removeId = undefined;
      return this.#expect(
        'userRemove',
        encodeSentence(['/ip/hotspot/user/remove', `=.id=${id}`]),
        0,
      );
    }
    const r = this.#random();
    if (r < 0.45) return this.#expect('identity', IDENTITY, 1);
    if (r < 0.8) {
      const names = this.#mix.userByName;
      return this.#expect(
        'userByName',
        names[Math.floor(this.#random() * names.length)] as Buffer,
        1,
      );
    }
    if (r < 0.92) return this.#expect('pppActive', PPP_ACTIVE, -1);
    if (r < 0.995) {
      const name = `bench-${this.#id}-${this.#added++}`;
      const result = await this.#expect(
        'userAdd',
        encodeSentence([
          '/ip/hotspot/user/add',
          `=name=${name}`,
          '=password=1234',
          '=profile=default',
        ]),
        0,
      );
      if (result.reply.ret === undefined) throw new Error('add returned no id');
      this.#removeId = result.reply.ret;
      return result;
    }
    return this.#expect('userPrintAll', USER_PRINT_ALL, HOTSPOT_USERS);
  }

  /** `rows` is the exact row count expected, the minimum for a full print, or -1 for any. */
  async #expect(kind: Kind, sentence: Buffer, rows: number): Promise<{ kind: Kind; reply: Reply }> {
    const reply = await sendCommand(this.client, sentence);
    const isRowsOk =
      rows < 0 || (kind === 'userPrintAll' ? reply.rows >= rows : reply.rows === rows);
    if (reply.trap !== undefined || !isRowsOk) {
      throw new Error(
        `${kind}: unexpected reply (rows ${reply.rows}, trap ${reply.trap ?? 'none'})`,
      );
    }
    return { kind, reply };
  }
}

// -- recording ------------------------------------------------------------------

/** Latencies in ms, overall and per kind. */
class Recorder {
  all: number[] = [];
  byKind = new Map<Kind, number[]>(KINDS.map((k) => [k, []]));

  add(kind: Kind, ms: number): void {
    this.all.push(ms);
    (this.byKind.get(kind) as number[]).push(ms);
  }
}

interface Summary {
  commands: number;
  seconds: number;
  cmdPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** p99 event-loop delay of the bench thread during the phase (warm-up included). */
  loopDelayP99Ms: number;
  byKind: Map<Kind, { count: number; p50Ms: number; p99Ms: number }>;
}

function summarize(recorder: Recorder, seconds: number, loopDelayP99Ms: number): Summary {
  const all = [...recorder.all].sort((a, b) => a - b);
  const byKind = new Map<Kind, { count: number; p50Ms: number; p99Ms: number }>();
  for (const [kind, values] of recorder.byKind) {
    const sorted = [...values].sort((a, b) => a - b);
    byKind.set(kind, {
      count: sorted.length,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
    });
  }
  return {
    commands: all.length,
    seconds,
    cmdPerSec: all.length / seconds,
    p50Ms: percentile(all, 50),
    p99Ms: percentile(all, 99),
    maxMs: all[all.length - 1] ?? Number.NaN,
    loopDelayP99Ms,
    byKind,
  };
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Closed loop: each worker sends its next command once the last is done.
 * Commands that start inside the timed window after the warm-up are counted.
 */
async function closedLoop(workers: readonly BillingWorker[], options: Options): Promise<Summary> {
  const recorder = new Recorder();
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const start = nowMs();
  const windowStart = start + options.warmupSeconds * 1000;
  const windowEnd = windowStart + options.seconds * 1000;
  await Promise.all(
    workers.map(async (worker) => {
      for (;;) {
        const sentAt = nowMs();
        if (sentAt >= windowEnd) return;
        const { kind } = await worker.step();
        const doneAt = nowMs();
        if (sentAt >= windowStart && doneAt <= windowEnd) recorder.add(kind, doneAt - sentAt);
      }
    }),
  );
  loopDelay.disable();
  return summarize(recorder, options.seconds, loopDelay.percentile(99) / 1e6);
}

/**
 * Open loop: `rate` commands/s in total, each worker on its own fixed
 * schedule (rate / workers per second), staggered so sends spread evenly.
 * Latency is measured from the actual send; a send that had to wait for the
 * previous command of the same worker (one untagged command at a time) is
 * counted as late.
 */
async function openLoop(
  workers: readonly BillingWorker[],
  options: Options,
): Promise<Summary & { lateSends: number }> {
  const recorder = new Recorder();
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const intervalMs = (1000 * workers.length) / options.rate;
  const start = nowMs() + 10;
  const windowStart = start + options.warmupSeconds * 1000;
  const windowEnd = windowStart + options.seconds * 1000;
  let lateSends = 0;
  await Promise.all(
    workers.map(async (worker, i) => {
      let due = start + (i * intervalMs) / workers.length;
      while (due < windowEnd) {
        const wait = due - nowMs();
        if (wait > 0) await sleep(wait);
        const sentAt = nowMs();
        // Late by more than a timer tick means the previous command was still running.
        const isLate = sentAt - due > Math.max(2, intervalMs);
        const { kind } = await worker.step();
        const doneAt = nowMs();
        if (sentAt >= windowStart && sentAt < windowEnd) {
          recorder.add(kind, doneAt - sentAt);
          if (isLate) lateSends++;
        }
        due += intervalMs;
      }
    }),
  );
  loopDelay.disable();
  return { ...summarize(recorder, options.seconds, loopDelay.percentile(99) / 1e6), lateSends };
}

// -- setup --------------------------------------------------------------------------

/** The simulator options both modes use. */
interface SimSettings {
  user: string;
  password: string;
  hotspotUsers: number;
  maxSessions: number;
}

/** A running simulator, on this thread or in a child process. */
interface SimHandle {
  port: number;
  where: string;
  close(): Promise<void>;
}

const SIM_ENV = 'ROSGATE_BENCH_SIMULATOR';
const thisFile = fileURLToPath(import.meta.url);

async function startSimInProcess(settings: SimSettings): Promise<SimHandle> {
  const sim: Simulator = await startSimulator(settings);
  return { port: sim.port, where: 'on the bench thread', close: () => sim.close() };
}

/**
 * The simulator in its own Node process (this file, run with SIM_ENV set), so
 * the router's work does not share the thread with the clients and rosgate,
 * as on a real deployment where the router is another machine.
 */
async function startSimChild(settings: SimSettings): Promise<SimHandle> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', thisFile], {
    env: { ...process.env, [SIM_ENV]: JSON.stringify(settings) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('simulator child did not start in 20 s')),
      20_000,
    );
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`simulator child exited with ${code}`)));
  });
  lines.close();
  return {
    port,
    where: `in child process ${child.pid}`,
    async close() {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill(), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Child side: start the simulator, print its port, stop when stdin ends. */
async function serveSimulator(settings: SimSettings): Promise<void> {
  const sim = await startSimulator(settings);
  process.stdout.write(`${JSON.stringify({ port: sim.port })}\n`);
  process.stdin.resume();
  process.stdin.once('end', () => void sim.close().then(() => process.exit(0)));
}

async function startRosgate(
  sim: SimHandle,
  options: Options,
): Promise<{ app: App; router: RouterRuntime }> {
  const { config } = validateConfig({
    routers: [
      {
        host: '127.0.0.1',
        port: sim.port,
        username: USER,
        password: PASSWORD,
        listen: { host: '127.0.0.1', port: 0 },
        pool: { max: options.poolMax },
      },
    ],
    limits: {
      maxClients: Math.max(1000, options.clients),
      maxClientsPerAddress: Math.max(100, options.clients),
    },
    log: { level: 'silent' },
    monitoring: { host: '127.0.0.1', port: 0 },
    // The proxy core alone: no rate limit or cache in the way (the flow and
    // cache benches measure those), and an account that may run the whole mix.
    flow: { rateLimit: { enabled: false } },
    cache: { enabled: false },
    policy: { users: { [USER]: 'admin' } },
    audit: { enabled: false },
  });
  const app = createApp(config, createLogger('silent', process.stdout));
  await app.start();
  return { app, router: app.routers[0] as RouterRuntime };
}

/** One `print ?name=` per seeded user, names read over the API. */
async function hotspotUserQueries(port: number): Promise<Buffer[]> {
  const client = await billingClient(port, USER, PASSWORD, COMMAND_TIMEOUT_MS);
  const users = await names(client, ['/ip/hotspot/user/print', '=.proplist=name']);
  await client.close();
  if (users.length !== HOTSPOT_USERS)
    throw new Error(`expected ${HOTSPOT_USERS} hotspot users, got ${users.length}`);
  return users.map((name) => encodeSentence(['/ip/hotspot/user/print', `?name=${name}`]));
}

async function connectWorkers(
  port: number,
  mix: Mix,
  count: number,
  firstId: number,
): Promise<BillingWorker[]> {
  const workers: BillingWorker[] = [];
  for (let i = 0; i < count; i++) {
    const client = await billingClient(port, USER, PASSWORD, COMMAND_TIMEOUT_MS);
    workers.push(new BillingWorker(client, mix, firstId + i));
  }
  return workers;
}

// -- output ---------------------------------------------------------------------------

const round = (n: number, digits = 3): number => Number(n.toFixed(digits));
const ms = (n: number): string => `${n.toFixed(3)} ms`;

function printPhase(label: string, s: Summary): void {
  console.log(
    `${label.padEnd(22)} ${Math.round(s.cmdPerSec).toString().padStart(7)} cmd/s ` +
      `(${s.commands} in ${s.seconds}s)  p50 ${ms(s.p50Ms)}  p99 ${ms(s.p99Ms)}  max ${ms(s.maxMs)}  ` +
      `event-loop delay p99 ${ms(s.loopDelayP99Ms)}`,
  );
  const parts: string[] = [];
  for (const [kind, k] of s.byKind) {
    if (k.count > 0)
      parts.push(`${kind} ${k.count}× p50 ${k.p50Ms.toFixed(3)}/p99 ${k.p99Ms.toFixed(3)}`);
  }
  console.log(`${' '.repeat(23)}${parts.join('; ')}`);
}

// -- run -------------------------------------------------------------------------------

export async function run(args: readonly string[]): Promise<BenchResult> {
  const options = parseOptions(args);
  const settings: SimSettings = {
    user: USER,
    password: PASSWORD,
    hotspotUsers: HOTSPOT_USERS,
    // Every direct client holds a session, plus rosgate's pool and its login check.
    maxSessions: options.clients + options.poolMax + 10,
  };
  const sim = await (options.isSimInProcess
    ? startSimInProcess(settings)
    : startSimChild(settings));
  let rosgate: { app: App; router: RouterRuntime } | undefined;
  const workers: BillingWorker[] = [];
  try {
    rosgate = await startRosgate(sim, options);
    const mix: Mix = { userByName: await hotspotUserQueries(sim.port) };
    const direct = await connectWorkers(sim.port, mix, options.clients, 0);
    workers.push(...direct);
    const proxied = await connectWorkers(
      rosgate.router.port,
      mix,
      options.clients,
      options.clients,
    );
    workers.push(...proxied);

    console.log(
      `proxy: ${options.clients} clients, billing mix, ${HOTSPOT_USERS} hotspot users, ` +
        `rosgate pool max ${options.poolMax}, ${options.warmupSeconds}s warm-up + ${options.seconds}s per phase, ` +
        `clients and rosgate on one thread, simulator ${sim.where}, 127.0.0.1 (node ${process.version})`,
    );
    console.log('closed loop (each client sends its next command when the last is done):');
    const directClosed = await closedLoop(direct, options);
    printPhase('  direct', directClosed);
    const proxyClosed = await closedLoop(proxied, options);
    printPhase('  through rosgate', proxyClosed);
    const throughputRatio = proxyClosed.cmdPerSec / directClosed.cmdPerSec;
    console.log(
      `  throughput through/direct ${(throughputRatio * 100).toFixed(1)}% (goal >= 80%: ${throughputRatio >= 0.8 ? 'met' : 'MISSED'}); ` +
        `added p50 ${ms(proxyClosed.p50Ms - directClosed.p50Ms)}, p99 ${ms(proxyClosed.p99Ms - directClosed.p99Ms)}`,
    );

    console.log(
      `open loop (${options.rate} cmd/s offered, ${(options.rate / options.clients).toFixed(1)}/s per client):`,
    );
    const directOpen = await openLoop(direct, options);
    printPhase('  direct', directOpen);
    const proxyOpen = await openLoop(proxied, options);
    printPhase('  through rosgate', proxyOpen);
    const addedP99 = proxyOpen.p99Ms - directOpen.p99Ms;
    console.log(
      `  achieved ${Math.round(directOpen.cmdPerSec)} / ${Math.round(proxyOpen.cmdPerSec)} cmd/s, ` +
        `late sends ${directOpen.lateSends} / ${proxyOpen.lateSends}; added p50 ${ms(proxyOpen.p50Ms - directOpen.p50Ms)}, ` +
        `p99 ${ms(addedP99)} (goal < 1 ms: ${addedP99 < 1 ? 'met' : 'MISSED'})`,
    );
    const pool = rosgate.router.pool.stats;
    console.log(
      `  rosgate: ${rosgate.router.stats.commandsForwarded} commands forwarded, pool opened ${pool.opened} sessions (max ${options.poolMax})`,
    );

    return {
      bench: 'proxy',
      clients: options.clients,
      seconds: options.seconds,
      poolMax: options.poolMax,
      directCmdPerSec: Math.round(directClosed.cmdPerSec),
      proxyCmdPerSec: Math.round(proxyClosed.cmdPerSec),
      throughputRatio: round(throughputRatio),
      directP50Ms: round(directClosed.p50Ms),
      directP99Ms: round(directClosed.p99Ms),
      proxyP50Ms: round(proxyClosed.p50Ms),
      proxyP99Ms: round(proxyClosed.p99Ms),
      addedP50Ms: round(proxyClosed.p50Ms - directClosed.p50Ms),
      addedP99Ms: round(proxyClosed.p99Ms - directClosed.p99Ms),
      offeredCmdPerSec: options.rate,
      directAchievedCmdPerSecAt1000: Math.round(directOpen.cmdPerSec),
      proxyAchievedCmdPerSecAt1000: Math.round(proxyOpen.cmdPerSec),
      directP50MsAt1000: round(directOpen.p50Ms),
      directP99MsAt1000: round(directOpen.p99Ms),
      proxyP50MsAt1000: round(proxyOpen.p50Ms),
      proxyP99MsAt1000: round(proxyOpen.p99Ms),
      addedP50MsAt1000: round(proxyOpen.p50Ms - directOpen.p50Ms),
      addedP99MsAt1000: round(addedP99),
      simulator: options.isSimInProcess ? 'in-process' : 'child-process',
      throughputGoalMet: throughputRatio >= 0.8 ? 'yes' : 'no',
      latencyGoalMet: addedP99 < 1 ? 'yes' : 'no',
    };
  } finally {
    await Promise.all(workers.map((worker) => worker.client.close()));
    if (rosgate !== undefined) await rosgate.app.stop(0);
    await sim.close();
  }
}

if (process.env[SIM_ENV] !== undefined && process.argv[1] === thisFile) {
  await serveSimulator(JSON.parse(process.env[SIM_ENV]) as SimSettings);
}
