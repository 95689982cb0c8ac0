/**
 * Admin benchmark: how long a Prometheus scrape of rosgate's registry takes
 * when it holds several routers with every stage on and traffic recorded in
 * every verb class and outcome; and how long the dashboard's statistics take
 * to build. Each is timed 1,000 times after a warm-up; p50, p99 and max.
 *
 * The metrics stage on its own (`recordNsPerCommand`): ns per command through
 * the stage and what it records (a cache-hit-like command answered at once by
 * a handler that does nothing), billing-like mix of reads, writes and refusals.
 *
 * Then the wired app: C billing clients (default 50) run the billing mix
 * through rosgate while Prometheus scrapes `/monitoring/metrics` every
 * second, against the same app and clients with no scraping, taking turns
 * for `--rounds` rounds of `--seconds` (`overheadRatio`, goal >= 0.97;
 * `wiredScrapeP99Ms` over those scrapes). Clients, rosgate and the
 * simulator share the thread.
 *
 * Run: npm run bench -- admin [--routers N] [--scrapes N] [--clients N] [--seconds N] [--rounds N] [--commands N]
 */
import { Registry } from 'prom-client';
import {
  createMetrics,
  createMetricsStage,
  type AdminSources,
  type RouterSource,
} from '../src/admin/index.js';
import { RosgateError, ErrorCode } from '../src/errors.js';
import { compose, SETTLED, type CommandContext, type CommandHandler } from '../src/pipeline.js';
import { Sentence } from '../src/protocol/index.js';
import { statisticsReport } from '../src/admin/reports.js';
import { OUTCOMES } from '../src/admin/traffic.js';
import { VERB_CLASSES } from '../src/admin/verb-class.js';
import {
  compareSetups,
  connectClients,
  hotspotUsers,
  Mix,
  startBenchApp,
  startBenchSimulator,
} from './billing-mix.js';
import { contextFor } from '../test/fixtures/admin-fakes.js';
import type { BenchResult } from './run.js';
import { percentile } from './stats.js';
import { numberArg } from './args.js';

const WARMUP = 50;
const ERROR_CODES = [
  'ROSGATE_POLICY_DENIED',
  'ROSGATE_RATE_LIMITED',
  'ROSGATE_BREAKER_OPEN',
  'ROSGATE_UPSTREAM_TIMEOUT',
  'ROSGATE_ACQUIRE_TIMEOUT',
];

/** A router with every stage on and ten policy rules. */
function routerSource(name: string, i: number): RouterSource {
  return {
    name,
    pool: () => ({
      ready: 4,
      busy: i % 4,
      opening: 0,
      waiting: i,
      longestWaitMs: 12,
      inFlight: 9,
      opened: 40,
      failedConnects: 2,
    }),
    proxy: () => ({
      clientsConnected: 50,
      clientsAccepted: 900,
      clientsRefused: 3,
      loginsOk: 880,
      loginsFailed: 20,
      refusedInFlight: 1,
      slowClientDrops: 0,
      framingErrors: 1,
      tlsHandshakeErrors: 0,
    }),
    breaker: () => ({ state: 'closed', failures: 5, transitions: 2 }),
    flow: () => ({
      queued: { high: 1, normal: 5, low: 9 },
      refusals: { 'queue-full': 4, 'rate-limited': 30, 'breaker-open': 2, timeout: 1 },
      tokens: 80,
      inFlight: 12,
      timeouts: 1,
      slow: 3,
    }),
    cache: () => ({
      hits: 10_000,
      misses: 2_000,
      coalesced: 300,
      staleServed: 4,
      invalidations: 120,
      evictions: 50,
      bytes: 4_000_000,
      entries: 700,
    }),
    policy: () => ({
      decisions: Array.from({ length: 10 }, (_, r) => ({
        rule: `rule-${r}`,
        verdict: r === 9 ? ('deny' as const) : ('allow' as const),
        count: 100 * r,
      })),
      inputFailures: 3,
      flags: { 'script-injection': 1, 'path-traversal': 2 },
      lockouts: 1,
    }),
  };
}

async function time(
  label: string,
  runs: number,
  work: () => unknown,
): Promise<{ p50: number; p99: number; max: number }> {
  for (let i = 0; i < WARMUP; i++) await work();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await work();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  const figures = {
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: samples[samples.length - 1] as number,
  };
  console.log(
    `${label}: p50 ${figures.p50.toFixed(3)} ms, p99 ${figures.p99.toFixed(3)} ms, max ${figures.max.toFixed(3)} ms over ${runs}`,
  );
  return figures;
}

/**
 * ns per command through the metrics stage alone: an inner handler that
 * answers at once (a row and `!done`, or a refusal), over 1,000 commands of
 * the billing mix (one in 50 refused); best of five runs of `commands` commands.
 */
export function recordNsPerCommand(commands: number): number {
  const sources: AdminSources = { routers: () => [], isDraining: () => false };
  const metrics = createMetrics({ registry: new Registry(), sources });
  const row = Sentence.from(['!re', '=name=u1', '=uptime=1h']);
  const done = Sentence.from(['!done', '=ret=*1A']);
  const refusal = new RosgateError(ErrorCode.RateLimited, 'rate limited');
  const inner: CommandHandler = {
    handle(context, sink) {
      if (context.receivedAt === 1) {
        sink.refuse(refusal);
      } else {
        sink.reply(row);
        sink.done(done);
      }
      return SETTLED;
    },
  };
  const handler = compose([createMetricsStage(metrics).stage], inner);
  const mix = new Mix(0, ['u1', 'u2', 'u3']);
  let added: string | undefined;
  const contexts = Array.from({ length: 1000 }, (_, i) => {
    const words = mix.next(added);
    added = words[0] === '/ip/hotspot/user/add' ? '*1A' : undefined;
    return contextFor('router-0', words, i % 50 === 49 ? 1 : 0);
  });
  const sink = { reply() {}, done() {}, refuse() {} };
  const once = (): number => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < commands; i++) handler.handle(contexts[i % 1000] as CommandContext, sink);
    return Number(process.hrtime.bigint() - started) / commands;
  };
  once(); // warm-up
  const best = Math.min(...Array.from({ length: 5 }, once));
  console.log(`metrics stage: ${best.toFixed(0)} ns per command (best of 5 x ${commands})`);
  return Math.round(best);
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

/** The billing mix through the wired app, scraped every second or not at all. */
async function wiredOverhead(clientCount: number, seconds: number, rounds: number) {
  const sim = await startBenchSimulator();
  const rosgate = await startBenchApp(sim.port, clientCount);
  const url = `http://127.0.0.1:${rosgate.app.adminPort}/monitoring/metrics`;
  const scrapes: number[] = [];
  const scrape = async (): Promise<void> => {
    const started = performance.now();
    const res = await fetch(url);
    await res.text();
    if (res.status !== 200) throw new Error(`scrape answered ${res.status}`);
    scrapes.push(performance.now() - started);
  };
  const scraping = (): (() => void) => {
    // Prometheus scrapes at once and then every second.
    void scrape();
    const timer = setInterval(() => void scrape(), 1000);
    return () => clearInterval(timer);
  };
  try {
    const clients = await connectClients(rosgate.port, clientCount);
    const users = await hotspotUsers(clients[0] as (typeof clients)[number]);
    // The first scrapes load fetch's client and compile the scrape path: not
    // part of what a scrape a second costs, so done before the rounds.
    for (let i = 0; i < 3; i++) await scrape();
    scrapes.length = 0;
    console.log(
      `wired: ${clientCount} clients, billing mix, ${rounds} rounds of ${seconds}s per setup (node ${process.version})`,
    );
    const [none, scraped] = (
      await compareSetups(
        [
          { name: 'no scraping', clients },
          { name: 'scraping every 1s', clients, during: scraping },
        ],
        users,
        seconds,
        rounds,
      )
    ).map((figures) => figures.perSecond) as [number, number];
    for (const c of clients) await c.close();
    scrapes.sort((a, b) => a - b);
    const overheadRatio = scraped / none;
    console.log(
      `  scraped/none ${(overheadRatio * 100).toFixed(1)}% (goal >= 97%: ${overheadRatio >= 0.97 ? 'met' : 'MISSED'}); ` +
        `${scrapes.length} scrapes, p99 ${percentile(scrapes, 99).toFixed(3)} ms`,
    );
    return {
      noScrapeCmdPerSec: Math.round(none),
      scrapeCmdPerSec: Math.round(scraped),
      overheadRatio: Number(overheadRatio.toFixed(3)),
      wiredScrapeP99Ms: round(percentile(scrapes, 99)),
      wiredScrapes: scrapes.length,
    };
  } finally {
    await rosgate.close();
    await sim.close();
  }
}

export async function run(args: readonly string[]): Promise<BenchResult> {
  const routerCount = Math.round(numberArg(args, 'routers', 8, 1, 100));
  const scrapes = Math.round(numberArg(args, 'scrapes', 1000, 1, 100_000));
  const clients = Math.round(numberArg(args, 'clients', 50, 1, 500));
  const seconds = numberArg(args, 'seconds', 5, 0.2, 120);
  const rounds = Math.round(numberArg(args, 'rounds', 2, 1, 20));
  const recordCommands = Math.round(numberArg(args, 'commands', 200_000, 100, 10_000_000));
  const routers = Array.from({ length: routerCount }, (_, i) => routerSource(`router-${i}`, i));
  const sources: AdminSources = {
    routers: () => routers,
    audit: () => ({ written: 50_000, dropped: 0 }),
    isDraining: () => false,
  };
  const metrics = createMetrics({ registry: new Registry(), sources });

  // Traffic in every verb class and outcome, errors in five codes, and the business figures.
  for (const r of routers) {
    for (let n = 0; n < 2000; n++) {
      const verbClass = VERB_CLASSES[n % VERB_CLASSES.length] as (typeof VERB_CLASSES)[number];
      const outcome = OUTCOMES[n % OUTCOMES.length] as (typeof OUTCOMES)[number];
      const isFailure = outcome === 'refused' || outcome === 'error';
      metrics.recordCommand({
        router: r.name,
        path: '/ip/hotspot/user',
        verbClass,
        outcome,
        durationMs: (n % 97) * 0.7,
        at: Date.now(),
        ...(isFailure ? { code: ERROR_CODES[n % ERROR_CODES.length] as string } : {}),
      });
      metrics.observeAcquire(r.name, (n % 13) / 1000);
    }
    metrics.setActiveUsers(r.name, 'hotspot', 250);
    metrics.setActiveUsers(r.name, 'pppoe', 80);
    metrics.countVoucher(r.name);
  }

  const text = await metrics.registry.metrics();
  const series = text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
  console.log(
    `registry: ${routerCount} routers, ${series} series, ${(text.length / 1024).toFixed(1)} KiB per scrape`,
  );
  const scrape = await time('scrape', scrapes, () => metrics.registry.metrics());
  const statistics = await time('statistics', scrapes, () =>
    JSON.stringify(statisticsReport(sources, metrics, 'bench')),
  );
  const recordNs = recordNsPerCommand(recordCommands);
  const wired = await wiredOverhead(clients, seconds, rounds);
  return {
    bench: 'admin',
    overheadRatio: wired.overheadRatio,
    recordNsPerCommand: recordNs,
    scrapeP99Ms: round(scrape.p99),
    scrapeP50Ms: round(scrape.p50),
    scrapeMaxMs: round(scrape.max),
    statisticsP99Ms: round(statistics.p99),
    routers: routerCount,
    series,
    scrapeBytes: text.length,
    scrapes,
    clients,
    seconds,
    rounds,
    noScrapeCmdPerSec: wired.noScrapeCmdPerSec,
    scrapeCmdPerSec: wired.scrapeCmdPerSec,
    wiredScrapeP99Ms: wired.wiredScrapeP99Ms,
    wiredScrapes: wired.wiredScrapes,
  };
}
