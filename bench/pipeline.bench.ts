/**
 * Pipeline benchmark: what the whole pipeline costs per command, held against
 * a protocol-blind TCP relay in front of the same router.
 *
 * Four setups, each its own process so that its CPU is read from the kernel
 * (/proc/<pid>/stat), all in front of one simulator in a fifth process:
 *   direct   the clients talk to the simulator;
 *   relay    a bare `net` pipe (bench/child-process.ts);
 *   rosgate  `rosgate --config config.yaml`: the shipped defaults, the rate
 *            limit raised out of the way (it measures cost, not the limit);
 *   core     the same with every optional stage off (rate limit, queue,
 *            breaker, cache, audit, input rules, attack/XSS/SQL detection).
 * The billing clients run here: one untagged command at a time per
 * connection, closed loop, the billing mix of bench/billing-mix.ts (identity
 * prints, hotspot lookups by name, PPP active prints, voucher adds and their
 * removes, now and then a full voucher print). For each client count the
 * setups take turns for `--rounds` rounds, the order reversed every other
 * round, after a warm-up each.
 *
 * Reported (for 10 clients unsuffixed, for the other counts with `AtN`):
 *   throughputRatio          rosgate cmd/s / direct cmd/s
 *   relayThroughputRatio     relay cmd/s / direct cmd/s
 *   coreThroughputRatio      core cmd/s / direct cmd/s
 *   cpuMicrosPerCommand      rosgate's CPU / commands it carried
 *   coreCpuMicrosPerCommand  the same for core
 *   relayCpuMicrosPerCommand the same for the relay
 *   p99AddedMs               rosgate p99 - direct p99
 *   relayP99AddedMs          relay p99 - direct p99
 *   writesP99AddedMs         the same for the writes alone (the mix's adds and removes; -1 if none)
 *   relayWritesP99AddedMs    the relay's
 *   syscallsPerCommand       rosgate's system calls per command (strace -c
 *                            over a separate phase; -1 without strace)
 *   coreSyscallsPerCommand   the same for core
 *   relaySyscallsPerCommand  the same for the relay
 *
 * Run: npm run bench -- pipeline [--clients 10,50] [--seconds N] [--rounds N]
 *      [--warmup N] [--syscalls 0|1] [--from-source 0|1]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RawClient } from '../test/fixtures/raw-client.js';
import { listArg, numberArg } from './args.js';
import { billingClient } from './billing-client.js';
import { PASSWORD, USER, billingLoop, hotspotUsers } from './billing-mix.js';
import {
  freePort,
  startRelayChild,
  startRosgateChild,
  startSimulatorChild,
  type BenchChild,
} from './child-process.js';
import type { BenchResult } from './run.js';
import { percentile } from './stats.js';
import { straceTotalCalls } from './strace.js';

const COMMAND_TIMEOUT_MS = 10_000;
const CONFIG_FILE = fileURLToPath(new URL('../config.yaml', import.meta.url));
const STRACE = '/usr/bin/strace';

/** Every optional stage off: what is left is the core (codec, sessions, pool). */
const CORE_ONLY: Readonly<Record<string, string>> = {
  ENABLE_RATE_LIMITING: 'false',
  ENABLE_PRIORITY_QUEUE: 'false',
  ENABLE_CIRCUIT_BREAKER: 'false',
  ENABLE_CACHING: 'false',
  ENABLE_AUDIT_LOGGING: 'false',
  ENABLE_VALIDATION: 'false',
  ENABLE_ATTACK_DETECTION: 'false',
  ENABLE_XSS_PROTECTION: 'false',
  ENABLE_SQL_INJECTION_PROTECTION: 'false',
};

interface Options {
  clientCounts: number[];
  seconds: number;
  rounds: number;
  warmupSeconds: number;
  isCountingSyscalls: boolean;
  /** rosgate from src/ through tsx instead of dist/ (the smoke test). */
  isFromSource: boolean;
}

function parseOptions(args: readonly string[]): Options {
  return {
    clientCounts: listArg(args, 'clients', [10, 50], 1, 500).map(Math.round),
    seconds: numberArg(args, 'seconds', 5, 0.2, 120),
    rounds: Math.round(numberArg(args, 'rounds', 2, 1, 20)),
    warmupSeconds: numberArg(args, 'warmup', 1, 0, 30),
    isCountingSyscalls: numberArg(args, 'syscalls', 1, 0, 1) === 1 && existsSync(STRACE),
    isFromSource: numberArg(args, 'from-source', 0, 0, 1) === 1,
  };
}

/** One way to reach the router, and the process whose CPU it costs (none for direct). */
interface Setup {
  readonly name: 'direct' | 'relay' | 'rosgate' | 'core';
  readonly port: number;
  readonly process: BenchChild | undefined;
}

/** What one setup did over the timed phases of one client count. */
interface Tally {
  commands: number;
  seconds: number;
  cpuSeconds: number;
  latenciesMs: number[];
  writeLatenciesMs: number[];
}

async function connect(port: number, count: number): Promise<RawClient[]> {
  const clients: RawClient[] = [];
  for (let i = 0; i < count; i++)
    clients.push(await billingClient(port, USER, PASSWORD, COMMAND_TIMEOUT_MS));
  return clients;
}

async function canLogIn(port: number): Promise<boolean> {
  const client = await billingClient(port, USER, PASSWORD, 2000);
  await client.close();
  return true;
}

/** rosgate from config.yaml, in front of `routerPort`, with `env` on top. */
async function startRosgate(
  routerPort: number,
  auditDir: string,
  isFromSource: boolean,
  env: Readonly<Record<string, string>> = {},
): Promise<BenchChild> {
  const port = await freePort();
  return startRosgateChild(
    CONFIG_FILE,
    {
      MIKROTIK_HOST: '127.0.0.1',
      MIKROTIK_PORT: String(routerPort),
      MIKROTIK_USERNAME: USER,
      MIKROTIK_PASSWORD: PASSWORD,
      PROXY_HOST: '127.0.0.1',
      PROXY_PORT: String(port),
      MONITORING_PORT: String(await freePort()),
      AUDIT_LOG_DIR: auditDir,
      // Raised out of the way: a bucket no bench run can empty.
      RATE_LIMIT_BUCKET_SIZE: '1000000',
      RATE_LIMIT_REFILL_RATE: '1000000',
      ...env,
    },
    port,
    canLogIn,
    [],
    isFromSource,
  );
}

/** One timed phase of `setup`: commands, latencies and the CPU its process used. */
async function timedPhase(
  setup: Setup,
  clients: readonly RawClient[],
  users: readonly string[],
  seconds: number,
  tally: Tally,
): Promise<void> {
  const cpuBefore = setup.process?.cpuSeconds() ?? 0;
  const started = performance.now();
  tally.commands += await billingLoop(
    clients,
    users,
    seconds,
    tally.latenciesMs,
    tally.writeLatenciesMs,
  );
  tally.seconds += (performance.now() - started) / 1000;
  tally.cpuSeconds += (setup.process?.cpuSeconds() ?? 0) - cpuBefore;
}

/** System calls per command of `child` over one phase, counted by `strace -c -f`. */
async function syscallsPerCommand(
  child: BenchChild,
  clients: readonly RawClient[],
  users: readonly string[],
  seconds: number,
): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'rosgate-bench-strace-'));
  const out = join(dir, 'strace.txt');
  const strace = spawn(STRACE, ['-c', '-f', '-o', out, '-p', String(child.pid)], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => strace.once('exit', () => resolve()));
  try {
    // strace attaches in a few milliseconds; give it a quiet moment first.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const commands = await billingLoop(clients, users, seconds, undefined);
    strace.kill('SIGINT');
    await exited;
    const calls = straceTotalCalls(readFileSync(out, 'latin1'));
    return calls === undefined ? -1 : calls / commands;
  } finally {
    strace.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (n: number, digits = 3): number => Number(n.toFixed(digits));

/** `ms` minus `directMs`, or -1 when either phase timed no such command (a very short run). */
const addedOrNone = (ms: number, directMs: number): number =>
  Number.isNaN(ms - directMs) ? -1 : round(ms - directMs);

/** The field each setup's system calls per command go in (direct has no process of ours). */
const SYSCALL_FIELDS: Readonly<Record<Exclude<Setup['name'], 'direct'>, string>> = {
  rosgate: 'syscallsPerCommand',
  core: 'coreSyscallsPerCommand',
  relay: 'relaySyscallsPerCommand',
};

/** Measures every setup at `count` clients; resolves with the fields for that count. */
async function measure(
  setups: readonly Setup[],
  count: number,
  users: readonly string[],
  options: Options,
): Promise<Record<string, number>> {
  const clients = new Map<Setup, RawClient[]>();
  const tallies = new Map<Setup, Tally>();
  try {
    for (const setup of setups) {
      clients.set(setup, await connect(setup.port, count));
      tallies.set(setup, {
        commands: 0,
        seconds: 0,
        cpuSeconds: 0,
        latenciesMs: [],
        writeLatenciesMs: [],
      });
      await billingLoop(clients.get(setup) as RawClient[], users, options.warmupSeconds, undefined);
    }
    for (let r = 0; r < options.rounds; r++) {
      for (const setup of r % 2 === 0 ? setups : [...setups].reverse()) {
        const tally = tallies.get(setup) as Tally;
        const list = clients.get(setup) as RawClient[];
        await timedPhase(setup, list, users, options.seconds, tally);
      }
    }
    const figures = new Map(
      setups.map((setup) => {
        const tally = tallies.get(setup) as Tally;
        const sorted = tally.latenciesMs.sort((a, b) => a - b);
        const writes = tally.writeLatenciesMs.sort((a, b) => a - b);
        return [
          setup.name,
          {
            perSecond: tally.commands / tally.seconds,
            cpuMicros: (tally.cpuSeconds / tally.commands) * 1e6,
            p99Ms: percentile(sorted, 99),
            writesP99Ms: percentile(writes, 99),
          },
        ];
      }),
    );
    const of = (name: Setup['name']) =>
      figures.get(name) as NonNullable<ReturnType<typeof figures.get>>;
    const direct = of('direct');
    for (const [name, f] of figures)
      console.log(
        `  ${count} clients ${name.padEnd(8)} ${Math.round(f.perSecond)} cmd/s` +
          `  p99 ${f.p99Ms.toFixed(2)} ms (writes ${f.writesP99Ms.toFixed(2)})` +
          (name === 'direct' ? '' : `  ${f.cpuMicros.toFixed(1)} µs CPU/command`),
      );
    const fields: Record<string, number> = {
      throughputRatio: round(of('rosgate').perSecond / direct.perSecond),
      relayThroughputRatio: round(of('relay').perSecond / direct.perSecond),
      coreThroughputRatio: round(of('core').perSecond / direct.perSecond),
      directCmdPerSec: Math.round(direct.perSecond),
      cpuMicrosPerCommand: round(of('rosgate').cpuMicros, 1),
      coreCpuMicrosPerCommand: round(of('core').cpuMicros, 1),
      relayCpuMicrosPerCommand: round(of('relay').cpuMicros, 1),
      p99AddedMs: round(of('rosgate').p99Ms - direct.p99Ms),
      relayP99AddedMs: round(of('relay').p99Ms - direct.p99Ms),
      writesP99AddedMs: addedOrNone(of('rosgate').writesP99Ms, direct.writesP99Ms),
      relayWritesP99AddedMs: addedOrNone(of('relay').writesP99Ms, direct.writesP99Ms),
    };
    if (options.isCountingSyscalls) {
      const phase = Math.min(2, options.seconds);
      for (const setup of setups) {
        if (setup.name === 'direct') continue;
        const calls = await syscallsPerCommand(
          setup.process as BenchChild,
          clients.get(setup) as RawClient[],
          users,
          phase,
        );
        fields[SYSCALL_FIELDS[setup.name]] = round(calls, 2);
      }
    } else {
      for (const field of Object.values(SYSCALL_FIELDS)) fields[field] = -1;
    }
    return fields;
  } finally {
    for (const list of clients.values()) for (const client of list) await client.close();
  }
}

export async function run(args: readonly string[]): Promise<BenchResult> {
  const options = parseOptions(args);
  const maxClients = Math.max(...options.clientCounts);
  const auditDir = mkdtempSync(join(tmpdir(), 'rosgate-bench-audit-'));
  const children: BenchChild[] = [];
  const start = async (child: Promise<BenchChild>): Promise<BenchChild> => {
    children.push(await child);
    return children[children.length - 1] as BenchChild;
  };
  try {
    const sim = await start(
      startSimulatorChild({
        user: USER,
        password: PASSWORD,
        hotspotUsers: 500,
        // direct and relay clients each hold a session; each rosgate a pool.
        maxSessions: 2 * maxClients + 40,
      }),
    );
    const setups: Setup[] = [
      { name: 'direct', port: sim.port, process: undefined },
      { name: 'relay', ...(await portOf(start(startRelayChild(sim.port)))) },
      {
        name: 'rosgate',
        ...(await portOf(start(startRosgate(sim.port, join(auditDir, 'a'), options.isFromSource)))),
      },
      {
        name: 'core',
        ...(await portOf(
          start(startRosgate(sim.port, join(auditDir, 'b'), options.isFromSource, CORE_ONLY)),
        )),
      },
    ];
    const probe = await billingClient(sim.port, USER, PASSWORD, COMMAND_TIMEOUT_MS);
    const users = await hotspotUsers(probe);
    await probe.close();
    console.log(
      `pipeline: clients ${options.clientCounts.join(', ')}, billing mix, ${options.rounds} rounds of ` +
        `${options.seconds}s per setup, every setup in its own process (node ${process.version})`,
    );
    const result: BenchResult = {
      bench: 'pipeline',
      rosgate: options.isFromSource ? 'src/main.ts (tsx)' : 'dist/main.js',
      clients: options.clientCounts.join(','),
      seconds: options.seconds,
      rounds: options.rounds,
    };
    for (const count of options.clientCounts) {
      const fields = await measure(setups, count, users, options);
      const suffix = count === options.clientCounts[0] ? '' : `At${count}`;
      for (const [key, value] of Object.entries(fields)) result[`${key}${suffix}`] = value;
    }
    return result;
  } finally {
    for (const child of children.reverse()) await child.stop();
    rmSync(auditDir, { recursive: true, force: true });
  }
}

async function portOf(child: Promise<BenchChild>): Promise<{ port: number; process: BenchChild }> {
  const started = await child;
  return { port: started.port, process: started };
}
