/**
 * Audit benchmark: writes a million billing-like records with the real
 * writer (SHA-256 chain, one folder in the temp dir), then times
 *   - verifyFiles over them (goal: 200,000 records/s or more; also per
 *     CPU second, which a busy machine disturbs less), and
 *   - searchAudit for one user's records (every line scanned).
 * Then the wired app: C billing clients (default 50) run the billing mix
 * through rosgate with audit at its default levels (files, SHA-256 chain)
 * against rosgate with audit off, taking turns for `--rounds` rounds of
 * `--seconds` (`overheadRatio`, goal >= 0.95), and with the writer on the
 * proxy's thread (`audit.thread: false`, `inlineOverheadRatio`). Clients, rosgate and the
 * simulator share the thread. CPU per command from /proc/self/task, which
 * holds steadier than throughput on a busy machine: the main thread's with
 * audit off (`offMainCpuMicros`), what audit adds to it
 * (`auditMainCpuMicros`; `inlineAuditMainCpuMicros` without the writer
 * thread) and to the other threads (`auditOtherCpuMicros`).
 *
 * Run: npm run bench -- audit [--records=N] [--clients=N] [--seconds=N] [--rounds=N]
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { App } from '../src/app.js';
import type { AuditEvent } from '../src/audit/audit-record.js';
import { FileAuditWriter } from '../src/audit/audit-writer.js';
import { searchAudit } from '../src/audit/search-audit.js';
import { verifyFiles } from '../src/audit/verify-files.js';
import {
  compareSetups,
  type SetupFigures,
  connectClients,
  hotspotUsers,
  startBenchApp,
  startBenchSimulator,
} from './billing-mix.js';
import type { BenchResult } from './run.js';
import { numberArg } from './args.js';

const BATCH = 10_000;
const START_MS = Date.parse('2024-05-01T00:00:00.000Z');

/** A hotspot voucher add as the billing mix sends it, numbered `n`. */
function event(n: number): AuditEvent {
  return {
    id: `5f0c6a52-8d4e-4c1a-9b7e-${n.toString(16).padStart(12, '0')}`,
    timestamp: new Date(START_MS + n * 10).toISOString(),
    kind: 'command',
    level: 'request',
    category: 'hotspot',
    action: '/ip/hotspot/user/add',
    result: 'success',
    userId: n % 10 === 0 ? 'cashier' : 'billing',
    ipAddress: '10.20.0.5',
    router: 'default',
    connId: 1 + (n % 8),
    path: '/ip/hotspot/user',
    verb: 'add',
    tag: String(n % 4096),
    rows: 0,
    duration: 4,
    details: {
      attributes: {
        name: `V${n.toString(36).toUpperCase()}`,
        password: '***',
        profile: '1day-20k',
        'limit-uptime': '1d',
        comment: `VOUCHER_SYSTEM|20000|1d|batch-${n % 100}|cashier1`,
      },
    },
  };
}

/** The sum of a metric's values in the app's registry. */
async function counter(app: App, name: string): Promise<number> {
  const values = (await app.metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return values.reduce((sum, v) => sum + v.value, 0);
}

/** The billing mix through the wired app with audit at default levels, and with audit off. */
async function wiredOverhead(clientCount: number, seconds: number, rounds: number) {
  const sim = await startBenchSimulator();
  const off = await startBenchApp(sim.port, clientCount, { audit: { enabled: false } });
  const on = await startBenchApp(sim.port, clientCount);
  const inline = await startBenchApp(sim.port, clientCount, { audit: { thread: false } });
  try {
    const offClients = await connectClients(off.port, clientCount);
    const onClients = await connectClients(on.port, clientCount);
    const inlineClients = await connectClients(inline.port, clientCount);
    const users = await hotspotUsers(offClients[0] as (typeof offClients)[number]);
    console.log(
      `wired: ${clientCount} clients, billing mix, ${rounds} rounds of ${seconds}s per setup (node ${process.version})`,
    );
    const [none, audited, audinline] = (await compareSetups(
      [
        { name: 'audit off', clients: offClients },
        { name: 'audit at defaults', clients: onClients },
        { name: 'audit, no thread', clients: inlineClients },
      ],
      users,
      seconds,
      rounds,
    )) as [SetupFigures, SetupFigures, SetupFigures];
    for (const c of [...offClients, ...onClients, ...inlineClients]) await c.close();
    const written = await counter(on.app, 'rosgate_audit_records_written_total');
    const dropped = await counter(on.app, 'rosgate_audit_records_dropped_total');
    const overheadRatio = audited.perSecond / none.perSecond;
    const inlineOverheadRatio = audinline.perSecond / none.perSecond;
    // CPU per command that auditing adds, on the main thread and on the others.
    const mainAdded = audited.mainCpuMicros - none.mainCpuMicros;
    const othersAdded = audited.otherCpuMicros - none.otherCpuMicros;
    const inlineMainAdded = audinline.mainCpuMicros - none.mainCpuMicros;
    console.log(
      `  audited/off ${(overheadRatio * 100).toFixed(1)}% (goal >= 95%: ${overheadRatio >= 0.95 ? 'met' : 'MISSED'}); ` +
        `without the writer thread ${(inlineOverheadRatio * 100).toFixed(1)}%; ` +
        `${written} records written, ${dropped} dropped`,
    );
    console.log(
      `  CPU per command added: ${mainAdded.toFixed(1)} µs on the main thread ` +
        `(of ${none.mainCpuMicros.toFixed(1)}) and ${othersAdded.toFixed(1)} µs on the others; ` +
        `without the writer thread ${inlineMainAdded.toFixed(1)} µs on the main thread`,
    );
    return {
      auditOffCmdPerSec: Math.round(none.perSecond),
      auditOnCmdPerSec: Math.round(audited.perSecond),
      auditInlineCmdPerSec: Math.round(audinline.perSecond),
      overheadRatio: Number(overheadRatio.toFixed(3)),
      inlineOverheadRatio: Number(inlineOverheadRatio.toFixed(3)),
      offMainCpuMicros: Number(none.mainCpuMicros.toFixed(1)),
      auditMainCpuMicros: Number(mainAdded.toFixed(1)),
      auditOtherCpuMicros: Number(othersAdded.toFixed(1)),
      inlineAuditMainCpuMicros: Number(inlineMainAdded.toFixed(1)),
      wiredRecordsDropped: dropped,
    };
  } finally {
    await inline.close();
    await on.close();
    await off.close();
    await sim.close();
  }
}

export async function run(args: readonly string[]): Promise<BenchResult> {
  const records = Math.round(numberArg(args, 'records', 1_000_000, 100, 100_000_000));
  const clients = Math.round(numberArg(args, 'clients', 50, 1, 500));
  const seconds = numberArg(args, 'seconds', 5, 0.2, 120);
  const rounds = Math.round(numberArg(args, 'rounds', 2, 1, 20));
  const dir = mkdtempSync(join(tmpdir(), 'rosgate-audit-bench-'));
  try {
    const writer = new FileAuditWriter({
      dir,
      bufferSize: BATCH,
      flushIntervalMs: 3_600_000,
      maxQueued: BATCH,
      maxFileBytes: 100 * 1024 * 1024,
      retentionDays: 0,
      logger: pino({ level: 'silent' }),
      now: () => START_MS,
    });
    let started = performance.now();
    for (let n = 1; n <= records; n += BATCH) {
      for (let i = n; i < Math.min(n + BATCH, records + 1); i++) writer.write(event(i));
      await writer.flush();
    }
    await writer.close();
    const writeSeconds = (performance.now() - started) / 1000;
    const { written, dropped, bytes } = writer.stats();
    if (written !== records || dropped !== 0)
      throw new Error(`wrote ${written}, dropped ${dropped}`);
    const files = readdirSync(dir)
      .filter((name) => name.endsWith('.jsonl'))
      .map((name) => join(dir, name));
    console.log(
      `wrote ${records} records, ${(bytes / 1e6).toFixed(0)} MB in ${files.length} files, ${writeSeconds.toFixed(1)} s`,
    );

    started = performance.now();
    const cpu = process.cpuUsage();
    const result = await verifyFiles(files);
    const verifySeconds = (performance.now() - started) / 1000;
    const { user, system } = process.cpuUsage(cpu);
    const verifyCpuSeconds = (user + system) / 1e6;
    if (!result.ok || result.records !== records)
      throw new Error('the generated log does not verify');
    console.log(
      `verified in ${verifySeconds.toFixed(2)} s (${verifyCpuSeconds.toFixed(2)} s of CPU)`,
    );

    started = performance.now();
    let found = 0;
    for await (const _record of searchAudit(dir, { user: 'cashier' })) found++;
    const searchSeconds = (performance.now() - started) / 1000;
    if (found !== Math.floor(records / 10)) throw new Error(`search found ${found}`);
    console.log(`searched one user in ${searchSeconds.toFixed(2)} s (${found} matches)`);

    const wired = await wiredOverhead(clients, seconds, rounds);
    return {
      bench: 'audit',
      overheadRatio: wired.overheadRatio,
      inlineOverheadRatio: wired.inlineOverheadRatio,
      records,
      verifyRecordsPerSecond: Math.round(records / verifySeconds),
      verifyRecordsPerCpuSecond: Math.round(records / verifyCpuSeconds),
      searchRecordsPerSecond: Math.round(records / searchSeconds),
      writeRecordsPerSecond: Math.round(records / writeSeconds),
      bytesPerRecord: Math.round(bytes / records),
      clients,
      seconds,
      rounds,
      auditOffCmdPerSec: wired.auditOffCmdPerSec,
      auditOnCmdPerSec: wired.auditOnCmdPerSec,
      auditInlineCmdPerSec: wired.auditInlineCmdPerSec,
      wiredRecordsDropped: wired.wiredRecordsDropped,
      offMainCpuMicros: wired.offMainCpuMicros,
      auditMainCpuMicros: wired.auditMainCpuMicros,
      auditOtherCpuMicros: wired.auditOtherCpuMicros,
      inlineAuditMainCpuMicros: wired.inlineAuditMainCpuMicros,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
