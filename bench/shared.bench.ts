/**
 * Shared-state benchmark: three rosgate replicas in front of one simulated
 * router and one real redis-server (Debian's redis-server, started on a free
 * port by test/fixtures/redis-server.ts), acting as one group.
 *
 * 1. Over the rate: the billing mix offered at about 5x the group's budget
 *    (bucket 10, 5 tokens per 100 ms: 50 commands/s), closed loop, 4 clients
 *    per replica. The simulator counts what reaches the router over a window
 *    after the first burst: `routerRateRatio` = router rate / 50 (goal
 *    <= 1.05); `redisRoundTripsPerCommand` = Redis calls of the three
 *    replicas / client commands answered in that window (goal <= 0.1);
 *    `maxGroupSessions` = the most router sessions open at once with
 *    ROUTER_MAX_SESSIONS 6 and 5 per replica (goal <= 6).
 * 2. Invalidation (the limit raised, so that a reader's miss is not held in
 *    the queue): `--writes` times, an add to /ip/firewall/address-list (a
 *    menu no listen watches, cached) through replica 1; from its `!done`,
 *    replicas 2 and 3 print the menu until the new entry shows:
 *    `invalidationP99Ms` (goal <= 20) over both.
 * 3. Within the rate (the limit raised out of the way): the mix through three
 *    replicas sharing through Redis against three that share nothing, taking
 *    turns: `overheadRatio` = throughput shared / unshared (goal >= 0.95).
 * 4. Strict mode (`shared.strict`): the mix through three strict replicas
 *    against the three default shared ones, taking turns:
 *    `strictOverheadRatio` = throughput strict / default; then one client's
 *    cached print, repeated: `strictHitP50Ms` / `strictHitP99Ms` against
 *    `sharedHitP50Ms` / `sharedHitP99Ms` (a strict hit waits for one Redis MGET).
 *
 * Run: npm run bench -- shared [--seconds N] [--writes N] [--rounds N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App, type RouterRuntime } from '../src/app.js';
import { validateConfig } from '../src/config/index.js';
import { createLogger } from '../src/logger.js';
import { encodeSentence } from '../src/protocol/index.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { startRedis } from '../test/fixtures/redis-server.js';
import type { RawClient } from '../test/fixtures/raw-client.js';
import { numberArg } from './args.js';
import { billingClient, sendCommand } from './billing-client.js';
import { Mix, PASSWORD, USER, hotspotUsers } from './billing-mix.js';
import type { BenchResult } from './run.js';
import { percentile } from './stats.js';

const REPLICAS = 3;
const CLIENTS_PER_REPLICA = 4;
const GROUP_RATE_PER_S = 50;
const GROUP_SESSIONS = 6;
const POOL_MAX = 5;
const ADDRESS_LIST = '/ip/firewall/address-list';

interface Replica {
  readonly app: App;
  readonly port: number;
  readonly clients: RawClient[];
}

/**
 * One replica of a group (or, without `url`, a lone one), in front of `sim`.
 * `shared.routerMaxSessions` (not a config key) is the router's group cap,
 * GROUP_SESSIONS unless given.
 */
async function startReplica(
  sim: Simulator,
  auditDir: string,
  index: number,
  flow: Record<string, unknown>,
  sharedOptions: Record<string, unknown> | undefined,
): Promise<Replica> {
  const { routerMaxSessions = GROUP_SESSIONS, ...shared } = sharedOptions ?? {};
  const isShared = sharedOptions !== undefined;
  const { config } = validateConfig({
    routers: [
      {
        host: '127.0.0.1',
        port: sim.port,
        username: USER,
        password: PASSWORD,
        listen: { host: '127.0.0.1', port: 0 },
        pool: { max: POOL_MAX },
        ...(isShared ? { maxSessions: routerMaxSessions } : {}),
      },
    ],
    limits: { maxClients: 1000, maxClientsPerAddress: 1000 },
    log: { level: 'silent' },
    monitoring: { host: '127.0.0.1', port: 0, businessPollMs: 0 },
    audit: { dir: join(auditDir, String(index)) },
    flow,
    ...(isShared ? { shared: { ...shared, replicaId: `bench-${index}` } } : {}),
  });
  const app = createApp(config, createLogger('silent', process.stdout));
  await app.start();
  const port = (app.routers[0] as RouterRuntime).port;
  const clients: RawClient[] = [];
  for (let i = 0; i < CLIENTS_PER_REPLICA; i++)
    clients.push(await billingClient(port, USER, PASSWORD, 30_000));
  return { app, port, clients };
}

/** The mix on every client until `isRunning()` is false; refusals are counted, not fatal. */
async function offer(
  clients: readonly RawClient[],
  users: readonly string[],
  isRunning: () => boolean,
  tally: { answered: number; refused: number },
): Promise<void> {
  await Promise.all(
    clients.map(async (client, i) => {
      const mix = new Mix(100 + i, users);
      let removeId: string | undefined;
      while (isRunning()) {
        const words = mix.next(removeId);
        const reply = await sendCommand(client, encodeSentence(words));
        if (reply.trap === undefined) tally.answered++;
        else tally.refused++;
        removeId =
          words[0] === '/ip/hotspot/user/add' && reply.trap === undefined ? reply.ret : undefined;
      }
    }),
  );
}

const routerCommands = (sim: Simulator): number =>
  Object.values(sim.counters.commands).reduce((n, c) => n + c, 0);
const roundTrips = (replicas: readonly Replica[]): number =>
  replicas.reduce((n, r) => n + (r.app.group?.group.stats().roundTrips ?? 0), 0);
const invalidationsSent = (replicas: readonly Replica[]): number =>
  replicas.reduce((n, r) => n + (r.app.group?.group.stats().invalidationsSent ?? 0), 0);
const leasedTokens = (replicas: readonly Replica[]): number =>
  replicas.reduce((n, r) => n + (r.app.group?.group.stats().leasedTokens ?? 0), 0);
/** The three replicas' Redis calls by what they were for. */
function roundTripsByOp(replicas: readonly Replica[]): Map<string, number> {
  const byOp = new Map<string, number>();
  for (const r of replicas) {
    for (const [op, n] of Object.entries(r.app.group?.group.stats().roundTripsByOp ?? {}))
      byOp.set(op, (byOp.get(op) ?? 0) + n);
  }
  return byOp;
}
/** `lease 25, publish 40, ...`: what `to` has more of than `from`, most first. */
function opsBetween(from: Map<string, number>, to: Map<string, number>): string {
  return [...to]
    .map(([op, n]) => [op, n - (from.get(op) ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([op, n]) => `${op} ${n}`)
    .join(', ');
}

/** Phase 1: the mix at about 5x the group's rate. */
async function overTheRate(
  sim: Simulator,
  replicas: readonly Replica[],
  users: readonly string[],
  seconds: number,
) {
  let isRunning = true;
  const tally = { answered: 0, refused: 0 };
  const load = offer(
    replicas.flatMap((r) => r.clients),
    users,
    () => isRunning,
    tally,
  );
  // Past the first burst (a full bucket per group), count over the window.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const from = { router: routerCommands(sim), at: performance.now(), trips: roundTrips(replicas) };
  const opsFrom = roundTripsByOp(replicas);
  const sentFrom = invalidationsSent(replicas);
  const leasedFrom = leasedTokens(replicas);
  const answeredBefore = tally.answered;
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const to = { router: routerCommands(sim), at: performance.now(), trips: roundTrips(replicas) };
  const opsTo = roundTripsByOp(replicas);
  const sentTo = invalidationsSent(replicas);
  const leasedTo = leasedTokens(replicas);
  const answered = tally.answered - answeredBefore;
  isRunning = false;
  await load;
  const routerRate = ((to.router - from.router) * 1000) / (to.at - from.at);
  console.log(
    `  over the rate: router ${routerRate.toFixed(1)}/s for ${GROUP_RATE_PER_S}/s; ` +
      `${answered} answered, ${tally.refused} refused in all; Redis calls ${to.trips - from.trips}`,
  );
  console.log(
    `  Redis calls by kind: ${opsBetween(opsFrom, opsTo)}; ` +
      `${sentTo - sentFrom} invalidations published, ${leasedTo - leasedFrom} tokens leased`,
  );
  return {
    routerRatePerS: Number(routerRate.toFixed(1)),
    routerRateRatio: Number((routerRate / GROUP_RATE_PER_S).toFixed(3)),
    redisRoundTripsPerCommand: Number(((to.trips - from.trips) / Math.max(1, answered)).toFixed(3)),
  };
}

/** Phase 2: a write through replica 1, seen through replicas 2 and 3. */
async function invalidation(replicas: readonly Replica[], writes: number): Promise<number> {
  const [writer, ...readers] = replicas as [Replica, ...Replica[]];
  const w = writer.clients[0] as RawClient;
  const latencies: number[] = [];
  for (let i = 0; i < writes; i++) {
    const name = `bench-${process.pid}-${i}`;
    // Every reader holds the menu's reply in its cache before the write.
    for (const r of readers) await (r.clients[0] as RawClient).call([`${ADDRESS_LIST}/print`]);
    const added = await w.call([
      `${ADDRESS_LIST}/add`,
      '=list=bench',
      `=address=10.9.${Math.floor(i / 250)}.${i % 250}`,
      `=comment=${name}`,
    ]);
    const done = performance.now();
    if (String(added.at(-1)).startsWith('!trap')) throw new Error(`add refused: ${added.join()}`);
    await Promise.all(
      readers.map(async (r) => {
        const c = r.clients[0] as RawClient;
        for (let attempt = 0; attempt < 2000; attempt++) {
          const rows = await c.call([`${ADDRESS_LIST}/print`, `?comment=${name}`]);
          if (rows.some((s) => s.command === '!re')) {
            latencies.push(performance.now() - done);
            return;
          }
        }
        throw new Error(`${name} never showed through a reader`);
      }),
    );
  }
  const sorted = latencies.sort((a, b) => a - b);
  console.log(
    `  invalidation: p50 ${percentile(sorted, 50).toFixed(2)} ms, p99 ${percentile(sorted, 99).toFixed(2)} ms over ${sorted.length}`,
  );
  return Number(percentile(sorted, 99).toFixed(3));
}

/** Client-side latency of `count` prints of a menu the replica holds in its cache. */
async function hitLatencies(replica: Replica, count: number): Promise<number[]> {
  const c = replica.clients[0] as RawClient;
  const print = [`${ADDRESS_LIST}/print`, '?list=bench'];
  await c.call(print);
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const at = performance.now();
    await c.call(print);
    latencies.push(performance.now() - at);
  }
  return latencies.sort((a, b) => a - b);
}

/** Phase 4: strict replicas against default shared ones, throughput and hit latency. */
async function strictMode(
  sim: Simulator,
  shared: readonly Replica[],
  strict: readonly Replica[],
  users: readonly string[],
  seconds: number,
  rounds: number,
) {
  const totals = { strict: 0, shared: 0 };
  for (let round = 0; round < rounds; round++) {
    const order =
      round % 2 === 0 ? (['strict', 'shared'] as const) : (['shared', 'strict'] as const);
    for (const name of order) {
      const list = name === 'strict' ? strict : shared;
      await throughput(sim, list, users, Math.min(1, seconds / 2));
      const { perSecond } = await throughput(sim, list, users, seconds);
      totals[name] += perSecond;
      console.log(`  round ${round + 1} ${name.padEnd(7)} ${Math.round(perSecond)} cmd/s`);
    }
  }
  const strictHits = await hitLatencies(strict[1] as Replica, 500);
  const sharedHits = await hitLatencies(shared[1] as Replica, 500);
  const hits = (strict[1] as Replica).app.cache.stats()['default']?.hits ?? 0;
  if (hits < 500) throw new Error(`strict prints were not cache hits (${hits} hits)`);
  console.log(
    `  strict hit: p50 ${percentile(strictHits, 50).toFixed(3)} ms, p99 ${percentile(strictHits, 99).toFixed(3)} ms; ` +
      `default shared hit: p50 ${percentile(sharedHits, 50).toFixed(3)} ms, p99 ${percentile(sharedHits, 99).toFixed(3)} ms`,
  );
  return {
    strictOverheadRatio: Number((totals.strict / totals.shared).toFixed(3)),
    strictCmdPerSec: Math.round(totals.strict / rounds),
    strictHitP50Ms: Number(percentile(strictHits, 50).toFixed(3)),
    strictHitP99Ms: Number(percentile(strictHits, 99).toFixed(3)),
    sharedHitP50Ms: Number(percentile(sharedHits, 50).toFixed(3)),
    sharedHitP99Ms: Number(percentile(sharedHits, 99).toFixed(3)),
  };
}

/** Phase 3: throughput of the mix, limit out of the way; and this process's CPU per command. */
async function throughput(
  sim: Simulator,
  replicas: readonly Replica[],
  users: readonly string[],
  seconds: number,
): Promise<{ perSecond: number; cpuUsPerCommand: number; routerShare: number }> {
  let isRunning = true;
  const tally = { answered: 0, refused: 0 };
  const load = offer(
    replicas.flatMap((r) => r.clients),
    users,
    () => isRunning,
    tally,
  );
  const cpu = process.cpuUsage();
  const router = routerCommands(sim);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const used = process.cpuUsage(cpu);
  const answered = tally.answered;
  const routerShare = (routerCommands(sim) - router) / Math.max(1, answered);
  isRunning = false;
  await load;
  return {
    perSecond: answered / seconds,
    cpuUsPerCommand: (used.user + used.system) / Math.max(1, answered),
    routerShare,
  };
}

export async function run(args: readonly string[]): Promise<BenchResult> {
  const seconds = numberArg(args, 'seconds', 5, 0.5, 120);
  const writes = Math.round(numberArg(args, 'writes', 50, 1, 1000));
  const rounds = Math.round(numberArg(args, 'rounds', 2, 1, 10));
  const redis = await startRedis();
  const sim = await startSimulator({
    user: USER,
    password: PASSWORD,
    hotspotUsers: 500,
    maxSessions: 60,
  });
  const auditDir = mkdtempSync(join(tmpdir(), 'rosgate-bench-shared-'));
  const started: Replica[] = [];
  const group = async (
    flow: Record<string, unknown>,
    shared: Record<string, unknown> | undefined,
    base: number,
  ): Promise<Replica[]> => {
    const list: Replica[] = [];
    for (let i = 0; i < REPLICAS; i++)
      list.push(await startReplica(sim, auditDir, base + i, flow, shared));
    started.push(...list);
    return list;
  };
  try {
    const limited = {
      rateLimit: { bucketSize: 10, refillTokens: 5, refillIntervalMs: 100, maxQueue: 1000 },
    };
    const raised = {
      rateLimit: { bucketSize: 1_000_000, refillTokens: 1_000_000, refillIntervalMs: 100 },
    };
    const sharedRate = await group(limited, { url: redis.url, prefix: 'bench-a:' }, 0);
    const users = await hotspotUsers(sharedRate[0]?.clients[0] as RawClient);
    console.log(
      `shared: ${REPLICAS} replicas x ${CLIENTS_PER_REPLICA} clients, one simulator, one redis-server (node ${process.version})`,
    );
    const rate = await overTheRate(sim, sharedRate, users, seconds);
    const maxGroupSessions = sim.counters.sessionsPeak;
    for (const r of sharedRate) {
      for (const c of r.clients) await c.close();
      await r.app.stop(0);
    }
    started.length = 0;
    // Within the rate and the session budget: the group cap is every pool's max (3 x 5), so
    // that sharing on and off differ by what sharing costs, not by fewer router sessions.
    const shared = await group(
      raised,
      { url: redis.url, prefix: 'bench-b:', routerMaxSessions: REPLICAS * POOL_MAX },
      10,
    );
    // With the limit out of the way, a reader's miss is not held in the queue.
    const invalidationP99Ms = await invalidation(shared, writes);
    const alone = await group(raised, undefined, 20);
    const totals = { shared: 0, alone: 0 };
    const cpu = { shared: 0, alone: 0 };
    // Both setups warmed up once first (pools grown, caches filled, leases at their size).
    for (const list of [shared, alone]) await throughput(sim, list, users, seconds);
    for (let round = 0; round < rounds; round++) {
      for (const [name, list] of round % 2 === 0
        ? ([
            ['shared', shared],
            ['alone', alone],
          ] as const)
        : ([
            ['alone', alone],
            ['shared', shared],
          ] as const)) {
        await throughput(sim, list, users, Math.min(1, seconds / 2));
        const { perSecond, cpuUsPerCommand, routerShare } = await throughput(
          sim,
          list,
          users,
          seconds,
        );
        totals[name] += perSecond;
        cpu[name] += cpuUsPerCommand;
        console.log(
          `  round ${round + 1} ${name.padEnd(7)} ${Math.round(perSecond)} cmd/s, ` +
            `${cpuUsPerCommand.toFixed(0)} µs CPU per command (bench process), ` +
            `${(routerShare * 100).toFixed(1)}% to the router`,
        );
      }
    }
    const overheadRatio = totals.shared / totals.alone;
    console.log(
      `  CPU per command: shared ${(cpu.shared / rounds).toFixed(0)} µs, ` +
        `alone ${(cpu.alone / rounds).toFixed(0)} µs (load average ${loadavg()[0]?.toFixed(1)})`,
    );
    const strictList = await group(
      raised,
      { url: redis.url, prefix: 'bench-c:', routerMaxSessions: REPLICAS * POOL_MAX, strict: true },
      30,
    );
    const strict = await strictMode(sim, shared, strictList, users, seconds, rounds);
    return {
      bench: 'shared',
      replicas: REPLICAS,
      seconds,
      ...rate,
      invalidationP99Ms,
      overheadRatio: Number(overheadRatio.toFixed(3)),
      sharedCmdPerSec: Math.round(totals.shared / rounds),
      unsharedCmdPerSec: Math.round(totals.alone / rounds),
      maxGroupSessions,
      groupSessionCap: GROUP_SESSIONS,
      ...strict,
    };
  } finally {
    for (const r of started) {
      for (const c of r.clients) await c.close();
      await r.app.stop(0);
    }
    await sim.close();
    await redis.stop();
    rmSync(auditDir, { recursive: true, force: true });
  }
}
