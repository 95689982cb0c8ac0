/**
 * Flow-control benchmark: does the flow stage protect the router, keep
 * clients fair, and cost little when it does not limit? Three phases, each
 * against the simulator through a fresh rosgate (`createApp()`, log level
 * `silent`):
 *
 *   1. protection: `--clients` (20) clients offer 5x the bucket's rate
 *      (tagged `/ip/address/print`, open loop) with the default flow
 *      settings (100 tokens, 10 per 100 ms: 100 commands/s). After a warm-up
 *      that spends the bucket's burst, the simulator's own counters give the
 *      rate the router saw; `routerRateRatio` = that rate / 100. Goal <= 1.05.
 *   2. fairness: 20 clients each send `/system/identity/print`, one at a
 *      time, under the same limit; their p99 latency alone, then while one
 *      more client has 1,000 `/ip/hotspot/user/add` queued at once.
 *      `fairnessP99Ratio` = p99 with the flood / p99 without. Goal <= 2.
 *   3. overhead: the billing mix of bench/proxy.bench.ts (45% identity, 35%
 *      user by name, 12% ppp active, 7.5% add then remove, 0.5% full user
 *      print), closed loop, `--clients` x 2.5 (50) clients; flow control on
 *      but never limiting (huge bucket and cap) against every switch off,
 *      in `--passes` (3) alternating rounds. `overheadRatio` = throughput
 *      on / off. Goal >= 0.95. "Off" is the stage with every switch off, as
 *      app.ts always builds it. On a busy machine throughput swings more
 *      than the stage costs, so the bench thread's CPU time per command is
 *      reported too (`cpuOverheadRatio` = CPU per command off / on), and the
 *      stage alone, in front of a handler that answers at once, in ns per
 *      command (`stageNsPerCommand`, on; `offStageNsPerCommand`, off).
 *
 * The cache is off (a hit would skip the flow stage) and the bench user has
 * the policy's `admin` role.
 *
 * The simulator runs in a child process (this file, started with
 * `node --import tsx`) unless `--sim-in-process` is given; its counters are
 * read over its HTTP control port. Every reply is checked; a command taking
 * over 60 s fails the run.
 *
 * Run: npm run bench -- flow [--clients N] [--seconds N] [--pool N] [--passes N]
 *        [--sim-in-process]
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createApp, type App, type RouterRuntime } from '../src/app.js';
import { validateConfig } from '../src/config/index.js';
import { createFlowStage } from '../src/flow/index.js';
import { createLogger } from '../src/logger.js';
import { SETTLED, describeCommand } from '../src/pipeline.js';
import { Decoder, Sentence, encodeSentence } from '../src/protocol/index.js';
import { startSimulator, type SimulatorCounters } from '../src/simulator/index.js';
import { Prng } from '../src/simulator/prng.js';
import type { BenchResult } from './run.js';
import { percentile } from './stats.js';
import { numberArg } from './args.js';

const USER = 'admin';
const PASSWORD = 'secret';
const HOTSPOT_USERS = 500;
/** The default bucket: 10 tokens per 100 ms. */
const CONFIGURED_RATE_PER_S = 100;
const FLOOD_ADDS = 1000;
const FAIRNESS_CLIENTS = 20;
const COMMAND_TIMEOUT_MS = 60_000;

// -- arguments ---------------------------------------------------------------

interface Options {
  clients: number;
  seconds: number;
  warmupSeconds: number;
  poolMax: number;
  /** Overhead rounds, each one off then one on. */
  passes: number;
  isSimInProcess: boolean;
}

function parseOptions(args: readonly string[]): Options {
  return {
    clients: Math.round(numberArg(args, 'clients', 20, 1, 200)),
    seconds: numberArg(args, 'seconds', 5, 1, 60),
    warmupSeconds: 2,
    poolMax: Math.round(numberArg(args, 'pool', 5, 1, 100)),
    passes: Math.round(numberArg(args, 'passes', 3, 1, 20)),
    isSimInProcess: args.includes('--sim-in-process'),
  };
}

// -- a minimal tagged RouterOS API client -----------------------------------------

/** What one command came back with. */
interface Reply {
  rows: number;
  /** The first `!trap` message, if any. */
  trap: string | undefined;
  /** `=ret=` of the `!done` (the new id after an add). */
  ret: string | undefined;
}

interface Pending {
  resolve: (reply: Reply) => void;
  rows: number;
  trap: string | undefined;
  /** `=name=` of each row, when asked for. */
  names: string[] | undefined;
}

/** One connection; every command carries its own tag, so many may be in flight. */
class BenchClient {
  readonly #socket: net.Socket;
  readonly #decoder = new Decoder();
  readonly #pending = new Map<string, Pending>();
  #nextTag = 1;
  #failure: Error | undefined;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#decoder.push(chunk, (s) => this.#onSentence(s)));
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => this.#fail(new Error('connection closed')));
  }

  static async connect(port: number): Promise<BenchClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    const client = new BenchClient(socket);
    const login = await client.call(['/login', `=name=${USER}`, `=password=${PASSWORD}`]);
    if (login.trap !== undefined) throw new Error(`login refused: ${login.trap}`);
    return client;
  }

  /** Commands sent and not yet answered. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Sends `words` with a fresh tag; resolves at its `!done`. */
  call(words: readonly string[], names?: string[]): Promise<Reply> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const tag = String(this.#nextTag++);
    return new Promise((resolve) => {
      this.#pending.set(tag, { resolve, rows: 0, trap: undefined, names });
      this.#socket.write(encodeSentence([...words, `.tag=${tag}`]));
    });
  }

  close(): void {
    this.#failure ??= new Error('closed by the bench');
    this.#socket.destroy();
  }

  #onSentence(sentence: Sentence): void {
    const tag = sentence.tagString;
    const pending = tag === undefined ? undefined : this.#pending.get(tag);
    if (pending === undefined) {
      if (sentence.command === '!fatal') this.#fail(new Error(`!fatal ${sentence.toString()}`));
      return;
    }
    const reply = sentence.command;
    if (reply === '!re') {
      pending.rows++;
      pending.names?.push(sentence.attributeString('name') ?? '');
    } else if (reply === '!trap') pending.trap ??= sentence.attributeString('message') ?? 'trap';
    else if (reply === '!done') {
      this.#pending.delete(tag as string);
      pending.resolve({
        rows: pending.rows,
        trap: pending.trap,
        ret: sentence.attributeString('ret'),
      });
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    // Commands still waiting are dropped: the bench only closes clients it is done with.
    this.#pending.clear();
  }
}

/** Fails the run if `promise` is not answered in time. */
function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out`)), COMMAND_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function connectClients(port: number, count: number): Promise<BenchClient[]> {
  const clients: BenchClient[] = [];
  for (let i = 0; i < count; i++) clients.push(await BenchClient.connect(port));
  return clients;
}

// -- measuring ----------------------------------------------------------------------

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const round = (n: number, digits = 3): number => Number(n.toFixed(digits));

// -- the simulator ------------------------------------------------------------------

interface SimSettings {
  user: string;
  password: string;
  hotspotUsers: number;
  maxSessions: number;
  controlPort: number;
}

/** A running simulator, on this thread or in a child process. */
interface SimHandle {
  port: number;
  where: string;
  /** Sentences the router received with this command word, so far. */
  count(command: string): Promise<number>;
  close(): Promise<void>;
}

const SIM_ENV = 'ROSGATE_BENCH_FLOW_SIMULATOR';
const thisFile = fileURLToPath(import.meta.url);

async function startSimInProcess(settings: SimSettings): Promise<SimHandle> {
  const sim = await startSimulator(settings);
  return {
    port: sim.port,
    where: 'on the bench thread',
    count: (command) => Promise.resolve(sim.counters.commands[command] ?? 0),
    close: () => sim.close(),
  };
}

function getCounters(controlPort: number): Promise<SimulatorCounters> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: controlPort, path: '/counters' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(JSON.parse(body) as SimulatorCounters));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The simulator in its own process, as a router is another machine. */
async function startSimChild(settings: SimSettings): Promise<SimHandle> {
  const child = spawn(process.execPath, ['--import', 'tsx', thisFile], {
    env: { ...process.env, [SIM_ENV]: JSON.stringify(settings) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout });
  const ports = await new Promise<{ port: number; controlPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('simulator child did not start')), 20_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as { port: number; controlPort: number });
    });
    child.once('exit', (code) => reject(new Error(`simulator child exited with ${code}`)));
  });
  lines.close();
  return {
    port: ports.port,
    where: `in child process ${child.pid}`,
    count: async (command) => (await getCounters(ports.controlPort)).commands[command] ?? 0,
    async close() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill(), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Child side: start the simulator, print its ports, stop when stdin ends. */
async function serveSimulator(settings: SimSettings): Promise<void> {
  const sim = await startSimulator(settings);
  process.stdout.write(`${JSON.stringify({ port: sim.port, controlPort: sim.controlPort })}\n`);
  process.stdin.resume();
  process.stdin.once('end', () => void sim.close().then(() => process.exit(0)));
}

// -- rosgate --------------------------------------------------------------------------

async function startRosgate(
  sim: SimHandle,
  options: Options,
  flow: object,
  maxInFlightPerClient = 32,
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
    limits: { maxClients: 1000, maxClientsPerAddress: 1000, maxInFlightPerClient },
    flow,
    // The flow stage alone: no cache hit skips it, no policy rule refuses the mix.
    cache: { enabled: false },
    policy: { users: { [USER]: 'admin' } },
    // Out of the way: no audit trail in the checkout, no fixed admin port.
    audit: { enabled: false },
    monitoring: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
  });
  const app = createApp(config, createLogger('silent', process.stdout));
  await app.start();
  return { app, router: app.routers[0] as RouterRuntime };
}

/** Runs `body` against a fresh rosgate with `flow` settings, then stops it. */
async function withRosgate<T>(
  sim: SimHandle,
  options: Options,
  flow: object,
  body: (port: number) => Promise<T>,
  maxInFlightPerClient?: number,
): Promise<T> {
  const { app, router } = await startRosgate(sim, options, flow, maxInFlightPerClient);
  try {
    return await body(router.port);
  } finally {
    await app.stop(0);
  }
}

// -- phase 1: protection --------------------------------------------------------------

const PROTECTION_COMMAND = '/ip/address/print';

interface Protection {
  routerRatePerS: number;
  routerRateRatio: number;
  answered: number;
  rateLimited: number;
  /** Refused by the client's session: more than `maxInFlightPerClient` waiting. */
  overClientLimit: number;
  otherRefusals: number;
}

/**
 * Open loop: every client sends on a fixed schedule whatever came back, so
 * the offered rate stays at 5x the bucket's; rate-limited and over-limit
 * refusals are answers too.
 */
async function protection(sim: SimHandle, options: Options): Promise<Protection> {
  return withRosgate(sim, options, {}, async (port) => {
    const clients = await connectClients(port, options.clients);
    const offeredPerS = 5 * CONFIGURED_RATE_PER_S;
    const intervalMs = (1000 * clients.length) / offeredPerS;
    const start = nowMs() + 10;
    const windowStart = start + options.warmupSeconds * 1000;
    const windowEnd = windowStart + options.seconds * 1000;
    let countAtStart = 0;
    const counted = (async () => {
      await sleep(windowStart - nowMs());
      countAtStart = await sim.count(PROTECTION_COMMAND);
      await sleep(windowEnd - nowMs());
      return (await sim.count(PROTECTION_COMMAND)) - countAtStart;
    })();
    const tally = { answered: 0, rateLimited: 0, overClientLimit: 0, otherRefusals: 0 };
    await Promise.all(
      clients.map(async (client, i) => {
        for (
          let due = start + (i * intervalMs) / clients.length;
          due < windowEnd;
          due += intervalMs
        ) {
          const wait = due - nowMs();
          if (wait > 0) await sleep(wait);
          void client.call([PROTECTION_COMMAND]).then((reply) => {
            if (reply.trap === undefined) tally.answered++;
            else if (reply.trap.startsWith('rate limited')) tally.rateLimited++;
            else if (reply.trap.startsWith('too many commands in flight')) tally.overClientLimit++;
            else tally.otherRefusals++;
          });
        }
        // Commands still queued when the window ends are cancelled with the connection.
        client.close();
      }),
    );
    const routerCommands = await counted;
    const routerRatePerS = routerCommands / options.seconds;
    return {
      routerRatePerS,
      routerRateRatio: routerRatePerS / CONFIGURED_RATE_PER_S,
      ...tally,
    };
  });
}

// -- phase 2: fairness ------------------------------------------------------------------

/** p99 (ms) of identity prints, each client one at a time, over the window. */
async function identityP99(clients: readonly BenchClient[], options: Options): Promise<number> {
  const latencies: number[] = [];
  const windowStart = nowMs() + 1000;
  const windowEnd = windowStart + options.seconds * 1000;
  await Promise.all(
    clients.map(async (client) => {
      for (;;) {
        const sentAt = nowMs();
        if (sentAt >= windowEnd) return;
        const reply = await withTimeout(client.call(['/system/identity/print']), 'identity print');
        if (reply.trap !== undefined || reply.rows !== 1) {
          throw new Error(`identity print: unexpected reply (trap ${reply.trap ?? 'none'})`);
        }
        if (sentAt >= windowStart) latencies.push(nowMs() - sentAt);
      }
    }),
  );
  return percentile(
    latencies.sort((a, b) => a - b),
    99,
  );
}

interface Fairness {
  aloneP99Ms: number;
  floodedP99Ms: number;
  fairnessP99Ratio: number;
  floodAddsDone: number;
}

async function fairness(sim: SimHandle, options: Options): Promise<Fairness> {
  const flow = { rateLimit: { maxQueue: FLOOD_ADDS + 2 * FAIRNESS_CLIENTS } };
  return withRosgate(
    sim,
    options,
    flow,
    async (port) => {
      const clients = await connectClients(port, FAIRNESS_CLIENTS);
      const aloneP99Ms = await identityP99(clients, options);
      const flooder = await BenchClient.connect(port);
      let floodAddsDone = 0;
      for (let i = 0; i < FLOOD_ADDS; i++) {
        void flooder
          .call(['/ip/hotspot/user/add', `=name=flood-${i}`, '=password=1234'])
          .then((reply) => {
            if (reply.trap === undefined) floodAddsDone++;
          });
      }
      const floodedP99Ms = await identityP99(clients, options);
      if (flooder.inFlight === 0) throw new Error('the flood ended before the window: lengthen it');
      flooder.close();
      for (const client of clients) client.close();
      return {
        aloneP99Ms,
        floodedP99Ms,
        fairnessP99Ratio: floodedP99Ms / aloneP99Ms,
        floodAddsDone,
      };
    },
    FLOOD_ADDS + 10,
  );
}

// -- phase 3: overhead --------------------------------------------------------------------

/** Flow control on, but with limits no client reaches. */
const FLOW_NEVER_LIMITING = {
  rateLimit: { bucketSize: 1_000_000_000, refillTokens: 1_000_000_000, refillIntervalMs: 1 },
  maxConcurrency: 100_000,
};

/** Every switch off; the cap out of reach. */
const FLOW_OFF = {
  rateLimit: { enabled: false },
  priority: { enabled: false },
  breaker: { enabled: false },
  maxConcurrency: 100_000,
};

/** One client's share of the billing mix, one command at a time; returns commands done. */
async function billingLoop(
  client: BenchClient,
  userQueries: readonly string[][],
  seed: number,
  windowStart: number,
  windowEnd: number,
): Promise<number> {
  const random = new Prng(seed);
  let done = 0;
  let added = 0;
  const expect = async (words: readonly string[], rows: number): Promise<Reply> => {
    const reply = await withTimeout(client.call(words), words[0] as string);
    if (reply.trap !== undefined || (rows >= 0 && reply.rows < rows)) {
      throw new Error(`${words[0]}: unexpected reply (rows ${reply.rows}, trap ${reply.trap})`);
    }
    return reply;
  };
  for (;;) {
    const sentAt = nowMs();
    if (sentAt >= windowEnd) return done;
    const r = random.next();
    let commands = 1;
    if (r < 0.45) await expect(['/system/identity/print'], 1);
    else if (r < 0.8) {
      await expect(userQueries[Math.floor(random.next() * userQueries.length)] as string[], 1);
    } else if (r < 0.92) await expect(['/ppp/active/print'], -1);
    else if (r < 0.995) {
      const { ret } = await expect(
        ['/ip/hotspot/user/add', `=name=mix-${seed}-${added++}`, '=password=1234'],
        0,
      );
      await expect(['/ip/hotspot/user/remove', `=.id=${ret}`], 0);
      commands = 2;
    } else await expect(['/ip/hotspot/user/print'], HOTSPOT_USERS);
    if (sentAt >= windowStart && nowMs() <= windowEnd) done += commands;
  }
}

/** Commands per second over the window, and the bench thread's CPU µs per command in it. */
interface Throughput {
  cmdPerSec: number;
  cpuUsPerCommand: number;
}

async function billingThroughput(
  sim: SimHandle,
  options: Options,
  flow: object,
  userQueries: readonly string[][],
  pass: number,
): Promise<Throughput> {
  return withRosgate(sim, options, flow, async (port) => {
    const clients = await connectClients(port, Math.round(options.clients * 2.5));
    const windowStart = nowMs() + 1000;
    const windowEnd = windowStart + options.seconds * 1000;
    let cpuAtStart = process.cpuUsage();
    let cpuInWindow = cpuAtStart;
    const startTimer = setTimeout(() => (cpuAtStart = process.cpuUsage()), windowStart - nowMs());
    const endTimer = setTimeout(
      () => (cpuInWindow = process.cpuUsage(cpuAtStart)),
      windowEnd - nowMs(),
    );
    const counts = await Promise.all(
      clients.map((client, i) =>
        billingLoop(client, userQueries, 1000 * pass + i, windowStart, windowEnd),
      ),
    );
    clearTimeout(startTimer);
    clearTimeout(endTimer);
    for (const client of clients) client.close();
    const commands = counts.reduce((a, b) => a + b, 0);
    return {
      cmdPerSec: commands / options.seconds,
      cpuUsPerCommand: (cpuInWindow.user + cpuInWindow.system) / commands,
    };
  });
}

interface Overhead {
  onCmdPerSec: number;
  offCmdPerSec: number;
  overheadRatio: number;
  onCpuUsPerCommand: number;
  offCpuUsPerCommand: number;
  cpuOverheadRatio: number;
}

/** One `print ?name=` per seeded user, names read straight from the simulator. */
async function userQueries(sim: SimHandle): Promise<string[][]> {
  const client = await BenchClient.connect(sim.port);
  const names: string[] = [];
  await client.call(['/ip/hotspot/user/print', '=.proplist=name'], names);
  client.close();
  if (names.length !== HOTSPOT_USERS) {
    throw new Error(`expected ${HOTSPOT_USERS} hotspot users, got ${names.length}`);
  }
  return names.map((name) => ['/ip/hotspot/user/print', `?name=${name}`]);
}

async function overhead(
  sim: SimHandle,
  options: Options,
  queries: readonly string[][],
): Promise<Overhead> {
  const on: Throughput[] = [];
  const off: Throughput[] = [];
  // Alternating rounds, so a drift in the machine's speed hits both alike.
  for (let pass = 0; pass < options.passes; pass++) {
    off.push(await billingThroughput(sim, options, FLOW_OFF, queries, pass));
    on.push(await billingThroughput(sim, options, FLOW_NEVER_LIMITING, queries, pass));
  }
  const mean = (runs: readonly Throughput[], pick: (t: Throughput) => number): number =>
    runs.reduce((sum, run) => sum + pick(run), 0) / runs.length;
  const onCmdPerSec = mean(on, (r) => r.cmdPerSec);
  const offCmdPerSec = mean(off, (r) => r.cmdPerSec);
  const onCpuUsPerCommand = mean(on, (r) => r.cpuUsPerCommand);
  const offCpuUsPerCommand = mean(off, (r) => r.cpuUsPerCommand);
  return {
    onCmdPerSec,
    offCmdPerSec,
    overheadRatio: onCmdPerSec / offCmdPerSec,
    onCpuUsPerCommand,
    offCpuUsPerCommand,
    cpuOverheadRatio: offCpuUsPerCommand / onCpuUsPerCommand,
  };
}

/**
 * ns per command for the flow stage alone, in front of a handler that
 * answers at once. The loop yields to the event loop every 100 commands, as
 * socket reads do, so the breaker's promises settle as they would in service
 * instead of piling up.
 */
async function stageCost(
  flow: object,
  queries: readonly string[][],
  commands: number,
): Promise<number> {
  const { config } = validateConfig({ routers: [{ host: '127.0.0.1', password: 'x' }], flow });
  const stage = createFlowStage({
    router: 'default',
    config: config.flow,
    routerTimeoutMs: 10_000,
    logger: createLogger('silent', process.stdout),
  });
  const handler = stage.stage({
    handle(_context, sink) {
      sink.done(DONE);
      return SETTLED;
    },
  });
  const random = new Prng(1);
  const sentences = Array.from({ length: 1000 }, () => {
    const r = random.next();
    if (r < 0.45) return Sentence.from(['/system/identity/print']);
    if (r < 0.8)
      return Sentence.from(queries[Math.floor(random.next() * queries.length)] as string[]);
    if (r < 0.92) return Sentence.from(['/ppp/active/print']);
    return Sentence.from(['/ip/hotspot/user/add', '=name=x', '=password=1234']);
  });
  const sink = {
    reply: () => undefined,
    done: () => undefined,
    refuse: (err: Error) => {
      throw err;
    },
  };
  const run = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++) {
      if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
      const sentence = sentences[i % sentences.length] as Sentence;
      handler.handle(
        {
          router: 'default',
          user: USER,
          clientId: 1 + (i % 50),
          address: '127.0.0.1',
          ...describeCommand(sentence),
          receivedAt: 0,
          notes: {},
        },
        sink,
      );
    }
  };
  await run(commands / 10);
  const start = process.hrtime.bigint();
  await run(commands);
  const ns = Number(process.hrtime.bigint() - start) / commands;
  stage.close();
  return ns;
}

const DONE = Sentence.from(['!done']);

// -- run ---------------------------------------------------------------------------------

export async function run(args: readonly string[]): Promise<BenchResult> {
  const options = parseOptions(args);
  const settings: SimSettings = {
    user: USER,
    password: PASSWORD,
    hotspotUsers: HOTSPOT_USERS,
    // rosgate's pool, its login checks, and the bench's own setup client.
    maxSessions: options.poolMax + 50,
    controlPort: 0,
  };
  const sim = await (options.isSimInProcess
    ? startSimInProcess(settings)
    : startSimChild(settings));
  try {
    console.log(
      `flow: ${options.clients} clients, ${options.warmupSeconds}s warm-up + ${options.seconds}s per phase, ` +
        `rosgate pool max ${options.poolMax}, simulator ${sim.where}, 127.0.0.1 (node ${process.version})`,
    );
    const queries = await userQueries(sim);
    const p = await protection(sim, options);
    console.log(
      `protection: ${5 * CONFIGURED_RATE_PER_S} cmd/s offered for ${CONFIGURED_RATE_PER_S} cmd/s configured; ` +
        `the router saw ${p.routerRatePerS.toFixed(1)} cmd/s (ratio ${p.routerRateRatio.toFixed(3)}, goal <= 1.05: ` +
        `${p.routerRateRatio <= 1.05 ? 'met' : 'MISSED'}); answered ${p.answered}, rate limited ${p.rateLimited}, ` +
        `over a client's in-flight limit ${p.overClientLimit}, other refusals ${p.otherRefusals}`,
    );
    const f = await fairness(sim, options);
    console.log(
      `fairness: ${FAIRNESS_CLIENTS} identity clients p99 ${f.aloneP99Ms.toFixed(1)} ms alone, ` +
        `${f.floodedP99Ms.toFixed(1)} ms beside ${FLOOD_ADDS} queued adds (ratio ${f.fairnessP99Ratio.toFixed(3)}, ` +
        `goal <= 2: ${f.fairnessP99Ratio <= 2 ? 'met' : 'MISSED'}); ${f.floodAddsDone} adds done before the flood client left`,
    );
    const o = await overhead(sim, options, queries);
    console.log(
      `overhead: billing mix, ${Math.round(options.clients * 2.5)} clients: ${Math.round(o.onCmdPerSec)} cmd/s ` +
        `with flow control on (never limiting), ${Math.round(o.offCmdPerSec)} off (ratio ${o.overheadRatio.toFixed(3)}, ` +
        `goal >= 0.95: ${o.overheadRatio >= 0.95 ? 'met' : 'MISSED'}); bench-thread CPU per command ` +
        `${o.onCpuUsPerCommand.toFixed(0)} µs on, ${o.offCpuUsPerCommand.toFixed(0)} µs off ` +
        `(ratio off/on ${o.cpuOverheadRatio.toFixed(3)})`,
    );
    const stageNs = await stageCost(FLOW_NEVER_LIMITING, queries, 200_000);
    const offStageNs = await stageCost(FLOW_OFF, queries, 200_000);
    console.log(
      `the stage alone: ${stageNs.toFixed(0)} ns per command on (never limiting), ${offStageNs.toFixed(0)} ns off`,
    );
    return {
      bench: 'flow',
      clients: options.clients,
      seconds: options.seconds,
      routerRatePerS: round(p.routerRatePerS, 1),
      routerRateRatio: round(p.routerRateRatio),
      aloneP99Ms: round(f.aloneP99Ms, 1),
      floodedP99Ms: round(f.floodedP99Ms, 1),
      fairnessP99Ratio: round(f.fairnessP99Ratio),
      onCmdPerSec: Math.round(o.onCmdPerSec),
      offCmdPerSec: Math.round(o.offCmdPerSec),
      overheadRatio: round(o.overheadRatio),
      onCpuUsPerCommand: round(o.onCpuUsPerCommand, 1),
      offCpuUsPerCommand: round(o.offCpuUsPerCommand, 1),
      cpuOverheadRatio: round(o.cpuOverheadRatio),
      stageNsPerCommand: Math.round(stageNs),
      offStageNsPerCommand: Math.round(offStageNs),
      simulator: options.isSimInProcess ? 'in-process' : 'child-process',
    };
  } finally {
    await sim.close();
  }
}

if (process.env[SIM_ENV] !== undefined && process.argv[1] === thisFile) {
  await serveSimulator(JSON.parse(process.env[SIM_ENV]) as SimSettings);
}
