/**
 * Cache benchmark: billing software's read-heavy workload against a
 * simulator slowed to a router's pace, straight and through rosgate with the
 * cache off, on, and on with integrity checks, in one run; then with the
 * cache on against a router that refuses the cache's `listen` with
 * `.proplist`, and one that refuses every `listen` (the hit rate
 * each keeps).
 *
 * Each of I app instances (default 8) is one connection sending one untagged
 * command at a time. Whatever falls due goes first:
 *   every `--tables-every` s (3)  /ip/hotspot/user/print of all 2,000 users
 *                                 (.proplist without counters; every other
 *                                 time with every property) and
 *                                 /ppp/secret/print of all 2,000 secrets;
 *   every `--active-every` s (1)  /ip/hotspot/active/print, /ppp/active/print;
 *   every `--batch-every` s (20)  a voucher batch: 50 adds, then their removes
 *                                 (one instance at a time, in turn);
 *   every 25th command            /system/identity/print (the per-connection probe);
 * and in between, lookups of single users by name among the `--working-set`
 * (200) users the app is busy with.
 *
 * The simulator keeps a router's pace: it answers every command after
 * `--latency-ms` (default 5) and pauses `--per-100-rows-ms` (default 10)
 * after every 100 rows of a print, so a full table of 2,000 rows costs the
 * router some 200 ms. It runs in a child process unless `--sim-in-process`
 * is given. Router commands are read from its counters (`/login` aside)
 * over each timed window.
 *
 * Run: npm run bench -- cache [--instances N] [--seconds N] [--latency-ms N]
 *        [--per-100-rows-ms N] [--tables-every N] [--active-every N]
 *        [--batch-every N] [--working-set N] [--pool N] [--sim-in-process]
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createApp, type App, type RouterRuntime } from '../src/app.js';
import { validateConfig } from '../src/config/index.js';
import { createLogger } from '../src/logger.js';
import { encodeSentence } from '../src/protocol/index.js';
import {
  startSimulator,
  type RefuseListen,
  type SimulatorOptions,
} from '../src/simulator/index.js';
import { Prng } from '../src/simulator/prng.js';
import type { RawClient } from '../test/fixtures/raw-client.js';
import { billingClient, names as namesOf, sendCommand, type Reply } from './billing-client.js';
import type { BenchResult } from './run.js';
import { numberArg } from './args.js';

const USER = 'admin';
const PASSWORD = 'secret';
const TABLE_ROWS = 2000;
const BATCH_SIZE = 50;
const PROBE_EVERY_COMMANDS = 25;
const COMMAND_TIMEOUT_MS = 30_000;

// -- arguments ---------------------------------------------------------------

interface Options {
  instances: number;
  seconds: number;
  warmupSeconds: number;
  latencyMs: number;
  per100RowsMs: number;
  tablesEveryMs: number;
  activeEveryMs: number;
  batchEveryMs: number;
  workingSet: number;
  poolMax: number;
  isSimInProcess: boolean;
}

function parseOptions(args: readonly string[]): Options {
  const seconds = numberArg(args, 'seconds', 20, 1, 300);
  return {
    instances: Math.round(numberArg(args, 'instances', 8, 1, 200)),
    seconds,
    warmupSeconds: Math.min(2, seconds / 2),
    latencyMs: Math.round(numberArg(args, 'latency-ms', 5, 0, 1000)),
    per100RowsMs: Math.round(numberArg(args, 'per-100-rows-ms', 10, 0, 1000)),
    tablesEveryMs: 1000 * numberArg(args, 'tables-every', 3, 0.1, 600),
    activeEveryMs: 1000 * numberArg(args, 'active-every', 1, 0.1, 600),
    batchEveryMs: 1000 * numberArg(args, 'batch-every', 20, 0.5, 3600),
    workingSet: Math.round(numberArg(args, 'working-set', 200, 1, TABLE_ROWS)),
    poolMax: Math.round(numberArg(args, 'pool', 5, 1, 100)),
    isSimInProcess: args.includes('--sim-in-process'),
  };
}

/** One billing connection: one untagged command at a time. */
const connect = (port: number): Promise<RawClient> =>
  billingClient(port, USER, PASSWORD, COMMAND_TIMEOUT_MS);

// -- the billing workload ------------------------------------------------------

const IDENTITY = encodeSentence(['/system/identity/print']);
const USERS = encodeSentence([
  '/ip/hotspot/user/print',
  '=.proplist=.id,name,password,profile,comment,disabled',
]);
const USERS_WITH_COUNTERS = encodeSentence(['/ip/hotspot/user/print']);
const SECRETS = encodeSentence([
  '/ppp/secret/print',
  '=.proplist=.id,name,password,profile,service,disabled',
]);
const HOTSPOT_ACTIVE = encodeSentence(['/ip/hotspot/active/print']);
const PPP_ACTIVE = encodeSentence(['/ppp/active/print']);

/** A task an instance runs every `everyMs`, first at `nextAt`. */
interface Periodic {
  readonly everyMs: number;
  nextAt: number;
  run(): Promise<void>;
}

/** One app instance: its connection, its periodic tasks and its lookups in between. */
class AppInstance {
  readonly connection: RawClient;
  readonly #lookups: readonly Buffer[];
  readonly #random: Prng;
  readonly #id: number;
  #commands = 0;
  #tablePrints = 0;
  #vouchers = 0;

  constructor(connection: RawClient, lookups: readonly Buffer[], id: number) {
    this.connection = connection;
    this.#lookups = lookups;
    this.#id = id;
    this.#random = new Prng(0xcace + id);
  }

  /**
   * Runs the workload until `endAt`; `record` gets each command's send time
   * and latency in ms. Periodic tasks start spread over their period (by
   * `phase`, 0-1), so instances do not act in step.
   */
  async runUntil(
    endAt: number,
    options: Options,
    phase: number,
    record: (sentAt: number, ms: number) => void,
  ): Promise<void> {
    const send = async (sentence: Buffer, rows?: number): Promise<Reply> => {
      const sentAt = nowMs();
      const reply = await sendCommand(this.connection, sentence);
      record(sentAt, nowMs() - sentAt);
      this.#commands++;
      if (reply.trap !== undefined || (rows !== undefined && reply.rows < rows))
        throw new Error(`unexpected reply: ${reply.rows} rows, trap ${reply.trap ?? 'none'}`);
      return reply;
    };
    const start = nowMs();
    const periodic = (everyMs: number, run: () => Promise<void>): Periodic => ({
      everyMs,
      nextAt: start + phase * everyMs,
      run,
    });
    const tasks = [
      periodic(options.tablesEveryMs, async () => {
        await send(this.#tablePrints++ % 2 === 0 ? USERS : USERS_WITH_COUNTERS, TABLE_ROWS);
        await send(SECRETS, TABLE_ROWS);
      }),
      periodic(options.activeEveryMs, async () => {
        await send(HOTSPOT_ACTIVE);
        await send(PPP_ACTIVE);
      }),
      // Batches come from one instance at a time: each has its turn once per round.
      periodic(options.batchEveryMs * options.instances, async () => {
        const ids: string[] = [];
        for (let i = 0; i < BATCH_SIZE; i++) {
          const name = `voucher-${this.#id}-${this.#vouchers++}`;
          const added = await send(
            encodeSentence(['/ip/hotspot/user/add', `=name=${name}`, '=password=1234']),
          );
          ids.push(added.ret as string);
        }
        for (const id of ids) await send(encodeSentence(['/ip/hotspot/user/remove', `=.id=${id}`]));
      }),
    ];
    while (nowMs() < endAt) {
      const due = tasks.find((task) => task.nextAt <= nowMs());
      if (due !== undefined) {
        due.nextAt += due.everyMs;
        await due.run();
      } else if (this.#commands % PROBE_EVERY_COMMANDS === 0) await send(IDENTITY, 1);
      else await send(this.#lookups[this.#random.int(0, this.#lookups.length - 1)] as Buffer, 1);
    }
  }
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

// -- the simulator -------------------------------------------------------------

interface SimHandle {
  port: number;
  where: string;
  /** Commands the router ran so far by command word, `/login` aside. */
  routerCommands(): Promise<Record<string, number>>;
  /** Make the router refuse `listen` (with `.proplist`, always) or not. */
  refuseListen(mode: RefuseListen): Promise<void>;
  close(): Promise<void>;
}

const SIM_ENV = 'ROSGATE_BENCH_CACHE_SIMULATOR';
const thisFile = fileURLToPath(import.meta.url);

function withoutLogins(commands: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(commands).filter(([command]) => command !== '/login'));
}

/** Commands run between two readings of the counters, most first. */
function ranBetween(
  before: Record<string, number>,
  after: Record<string, number>,
): [string, number][] {
  return Object.entries(after)
    .map(([command, count]): [string, number] => [command, count - (before[command] ?? 0)])
    .filter(([, count]) => count > 0)
    .sort((a, b) => b[1] - a[1]);
}

function getJson(port: number, path: string, body?: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const method = body === undefined ? 'GET' : 'POST';
    request({ host: '127.0.0.1', port, path, method }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve(JSON.parse(text)));
    })
      .on('error', reject)
      .end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function startSim(settings: SimulatorOptions, isInProcess: boolean): Promise<SimHandle> {
  if (isInProcess) {
    const sim = await startSimulator(settings);
    return {
      port: sim.port,
      where: 'on the bench thread',
      routerCommands: () => Promise.resolve(withoutLogins(sim.counters.commands)),
      refuseListen: (mode) => {
        sim.faults.refuseListen = mode;
        return Promise.resolve();
      },
      close: () => sim.close(),
    };
  }
  const child = spawn(process.execPath, ['--import', 'tsx', thisFile], {
    env: { ...process.env, [SIM_ENV]: JSON.stringify({ ...settings, controlPort: 0 }) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const ports = await new Promise<{ port: number; controlPort: number }>((resolve, reject) => {
    lines.once('line', (line) =>
      resolve(JSON.parse(line) as { port: number; controlPort: number }),
    );
    child.once('exit', (code) => reject(new Error(`simulator child exited with ${code}`)));
  });
  lines.close();
  return {
    port: ports.port,
    where: `in child process ${child.pid}`,
    routerCommands: async () => {
      const counters = (await getJson(ports.controlPort, '/counters')) as {
        commands: Record<string, number>;
      };
      return withoutLogins(counters.commands);
    },
    async refuseListen(mode) {
      await getJson(ports.controlPort, '/faults', { refuseListen: mode });
    },
    async close() {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill(), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Child side: start the simulator, print its ports, stop when stdin ends. */
async function serveSimulator(settings: SimulatorOptions): Promise<void> {
  const sim = await startSimulator(settings);
  process.stdout.write(`${JSON.stringify({ port: sim.port, controlPort: sim.controlPort })}\n`);
  process.stdin.resume();
  process.stdin.once('end', () => void sim.close().then(() => process.exit(0)));
}

// -- phases ----------------------------------------------------------------------

interface Phase {
  label: string;
  commands: number;
  cmdPerSec: number;
  p50Ms: number;
  p99Ms: number;
  routerCommandsPerClientCommand: number;
  /** Router commands per second: the load the router carried, whatever the clients' rate. */
  routerCmdPerSec: number;
  /** Share of prints answered from the cache (hits over hits, misses and coalesced), warm-up included. */
  hitRate?: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Every instance runs its cycles for warm-up + seconds on `port`; the timed window is measured. */
async function runPhase(
  label: string,
  port: number,
  sim: SimHandle,
  lookups: readonly Buffer[],
  options: Options,
): Promise<Phase> {
  const start = nowMs();
  const windowStart = start + options.warmupSeconds * 1000;
  const windowEnd = windowStart + options.seconds * 1000;
  const instances: AppInstance[] = [];
  for (let i = 0; i < options.instances; i++)
    instances.push(new AppInstance(await connect(port), lookups, i));
  const latencies: number[] = [];
  let before: Record<string, number> = {};
  let after: Record<string, number> = {};
  const counting = (async () => {
    await sleep(windowStart - nowMs());
    before = await sim.routerCommands();
    await sleep(windowEnd - nowMs());
    after = await sim.routerCommands();
  })();
  try {
    await Promise.all(
      instances.map((instance, i) =>
        instance.runUntil(windowEnd, options, (i + 0.5) / options.instances, (sentAt, ms) => {
          if (sentAt >= windowStart && sentAt + ms <= windowEnd) latencies.push(ms);
        }),
      ),
    );
    await counting;
  } finally {
    await Promise.all(instances.map((instance) => instance.connection.close()));
  }
  latencies.sort((a, b) => a - b);
  const ran = ranBetween(before, after);
  const routerCommands = ran.reduce((sum, [, count]) => sum + count, 0);
  const phase = {
    label,
    commands: latencies.length,
    cmdPerSec: latencies.length / options.seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    routerCommandsPerClientCommand: routerCommands / latencies.length,
    routerCmdPerSec: routerCommands / options.seconds,
  };
  console.log(
    `  ${label.padEnd(26)} ${Math.round(phase.cmdPerSec).toString().padStart(7)} cmd/s  ` +
      `p50 ${phase.p50Ms.toFixed(3)} ms  p99 ${phase.p99Ms.toFixed(3)} ms  ` +
      `router commands per client command ${phase.routerCommandsPerClientCommand.toFixed(3)} ` +
      `(${Math.round(phase.routerCmdPerSec)}/s)\n` +
      `    the router ran: ${ran
        .slice(0, 6)
        .map(([command, count]) => `${command} ${count}`)
        .join(', ')}`,
  );
  return phase;
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

async function startRosgate(
  sim: SimHandle,
  options: Options,
  cache: Record<string, unknown>,
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
    cache,
    log: { level: 'silent' },
    // Out of the way: no audit trail in the checkout, no fixed admin port.
    audit: { enabled: false },
    monitoring: { host: '127.0.0.1', port: 0 },
  });
  const app = createApp(config, createLogger('silent', process.stdout));
  await app.start();
  return { app, router: app.routers[0] as RouterRuntime };
}

async function throughRosgate(
  label: string,
  sim: SimHandle,
  lookups: readonly Buffer[],
  options: Options,
  cache: Record<string, unknown>,
): Promise<Phase> {
  const { app, router } = await startRosgate(sim, options, cache);
  try {
    const phase = await runPhase(label, router.port, sim, lookups, options);
    const stats = app.cache.stats()[router.config.name];
    if (stats !== undefined) {
      const { hits, misses, coalesced, invalidations, staleServed, evictions } = stats;
      const hitRate = hits / Math.max(1, hits + misses + coalesced);
      console.log(
        `    the cache (warm-up included): ${hits} hits, ${misses} misses, ${coalesced} coalesced, ` +
          `${invalidations} invalidations, ${staleServed} stale, ${evictions} evictions; ` +
          `hit rate ${(hitRate * 100).toFixed(1)}%; listens running ${stats.listensActive}, refused ${stats.listensRefused}`,
      );
      return { ...phase, hitRate };
    }
    return phase;
  } finally {
    await app.stop(0);
  }
}

// -- run ---------------------------------------------------------------------------

const round = (n: number, digits = 3): number => Number(n.toFixed(digits));

export async function run(args: readonly string[]): Promise<BenchResult> {
  const options = parseOptions(args);
  const sim = await startSim(
    {
      user: USER,
      password: PASSWORD,
      hotspotUsers: TABLE_ROWS,
      pppSecrets: TABLE_ROWS,
      latencyMs: options.latencyMs,
      latencyPer100RowsMs: options.per100RowsMs,
      maxSessions: options.instances + options.poolMax + 10,
    },
    options.isSimInProcess,
  );
  try {
    const setup = await connect(sim.port);
    const names = await namesOf(setup, ['/ip/hotspot/user/print', '=.proplist=name']);
    await setup.close();
    const lookups = names
      .slice(0, options.workingSet)
      .map((name) =>
        encodeSentence([
          '/ip/hotspot/user/print',
          `?name=${name}`,
          '=.proplist=.id,name,profile,comment,disabled',
        ]),
      );
    console.log(
      `cache: ${options.instances} app instances, ${TABLE_ROWS} hotspot users and PPP secrets, ` +
        `router pace ${options.latencyMs} ms per command and ${options.per100RowsMs} ms per 100 rows; per instance: tables every ${options.tablesEveryMs} ms, ` +
        `active sessions every ${options.activeEveryMs} ms, lookups among ${options.workingSet} users; ` +
        `${BATCH_SIZE} vouchers added and removed every ${options.batchEveryMs} ms by one instance; rosgate pool max ${options.poolMax}, ` +
        `${options.warmupSeconds}s warm-up + ${options.seconds}s per phase, simulator ${sim.where} (node ${process.version})`,
    );
    const direct = await runPhase('direct', sim.port, sim, lookups, options);
    const off = await throughRosgate('rosgate, cache off', sim, lookups, options, {
      enabled: false,
    });
    const on = await throughRosgate('rosgate, cache on', sim, lookups, options, { enabled: true });
    const checked = await throughRosgate('rosgate, cache + integrity', sim, lookups, options, {
      enabled: true,
      integrity: true,
    });
    await sim.refuseListen('proplist');
    const refusedProplist = await throughRosgate(
      'cache on, .proplist refused',
      sim,
      lookups,
      options,
      { enabled: true },
    );
    await sim.refuseListen('always');
    const refusedAlways = await throughRosgate('cache on, listen refused', sim, lookups, options, {
      enabled: true,
    });
    await sim.refuseListen('off');
    const throughputRatio = on.cmdPerSec / direct.cmdPerSec;
    const ratio = on.routerCommandsPerClientCommand;
    console.log(
      `  through the cache/direct ${throughputRatio.toFixed(1)}x (goal >= 10: ${throughputRatio >= 10 ? 'met' : 'MISSED'}); ` +
        `router commands per client command ${ratio.toFixed(3)} (goal <= 0.1: ${ratio <= 0.1 ? 'met' : 'MISSED'}); ` +
        `integrity costs ${((1 - checked.cmdPerSec / on.cmdPerSec) * 100).toFixed(1)}% of throughput`,
    );
    const percent = (phase: Phase): string => `${((phase.hitRate ?? 0) * 100).toFixed(1)}%`;
    console.log(
      `  hit rate: listen running ${percent(on)}, .proplist refused ${percent(refusedProplist)}, ` +
        `every listen refused ${percent(refusedAlways)}; through the cache/direct ` +
        `${(refusedProplist.cmdPerSec / direct.cmdPerSec).toFixed(1)}x and ` +
        `${(refusedAlways.cmdPerSec / direct.cmdPerSec).toFixed(1)}x`,
    );
    return {
      bench: 'cache',
      instances: options.instances,
      seconds: options.seconds,
      latencyMs: options.latencyMs,
      latencyPer100RowsMs: options.per100RowsMs,
      directCmdPerSec: Math.round(direct.cmdPerSec),
      cacheOffCmdPerSec: Math.round(off.cmdPerSec),
      cacheOnCmdPerSec: Math.round(on.cmdPerSec),
      integrityCmdPerSec: Math.round(checked.cmdPerSec),
      throughputRatio: round(throughputRatio, 2),
      throughputRatioCacheOff: round(off.cmdPerSec / direct.cmdPerSec, 2),
      directP50Ms: round(direct.p50Ms),
      cacheOffP50Ms: round(off.p50Ms),
      cacheOnP50Ms: round(on.p50Ms),
      integrityP50Ms: round(checked.p50Ms),
      routerCommandsPerClientCommand: round(ratio),
      routerCommandsPerClientCommandCacheOff: round(off.routerCommandsPerClientCommand),
      routerCommandsPerClientCommandDirect: round(direct.routerCommandsPerClientCommand),
      directRouterCmdPerSec: round(direct.routerCmdPerSec, 1),
      cacheOffRouterCmdPerSec: round(off.routerCmdPerSec, 1),
      cacheOnRouterCmdPerSec: round(on.routerCmdPerSec, 1),
      cacheOnHitRate: round(on.hitRate ?? 0),
      proplistRefusedHitRate: round(refusedProplist.hitRate ?? 0),
      listenRefusedHitRate: round(refusedAlways.hitRate ?? 0),
      proplistRefusedCmdPerSec: Math.round(refusedProplist.cmdPerSec),
      listenRefusedCmdPerSec: Math.round(refusedAlways.cmdPerSec),
      throughputGoalMet: throughputRatio >= 10 ? 'yes' : 'no',
      routerCommandsGoalMet: ratio <= 0.1 ? 'yes' : 'no',
    };
  } finally {
    await sim.close();
  }
}

if (process.env[SIM_ENV] !== undefined && process.argv[1] === thisFile) {
  await serveSimulator(JSON.parse(process.env[SIM_ENV]) as SimulatorOptions);
}
