/**
 * The audit trail's file writer on a thread of its own. For a command's
 * record (below `full`) the proxy's thread copies the command's bytes and a
 * few numbers into a batch (`writeCommand`, command-facts.ts); the writer's
 * thread redacts them, makes the record's JSON, hashes the chain and does
 * the file work (audit-thread.ts). Other records (logins, lockouts, config
 * changes, `full` commands) are serialised on the proxy's thread, once, as
 * they will be hashed, and travel in the same batches, in order.
 *
 * Semantics are the file writer's: `write` never waits, records beyond
 * `maxQueued` (waiting here or in the thread) are dropped and counted,
 * `flush` resolves once everything written before it is on disk, `close`
 * flushes and stops. A thread that dies is logged, its records in flight are
 * counted lost, and a new one resumes the chain from the files.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { ErrorCode } from '../errors.js';
import type { AuditEvent } from './audit-record.js';
import type { CommandFacts } from './command-facts.js';
import {
  DropWarning,
  prepareRecord,
  ZERO_AUDIT_STATS,
  type AuditHead,
  type AuditStats,
  type AuditWriter,
  type FileAuditWriterOptions,
} from './audit-writer.js';
import {
  RecordBatch,
  type AuditThreadOptions,
  type FromAuditThread,
  type ToAuditThread,
} from './audit-thread.js';

/** The writer thread's entry: this module's sibling, in the same form (`.ts` under tsx, `.js` built). */
const DEFAULT_ENTRY = new URL(
  `./audit-thread-main${extname(fileURLToPath(import.meta.url))}`,
  import.meta.url,
);

/**
 * Starts `entry` as a worker. Running from source under tsx, a worker does
 * not inherit tsx's loader (Node 20): a `.ts` entry is loaded through tsx's
 * API, which only a checkout has (built code never takes that way).
 */
function spawn(entry: URL, workerData: unknown): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { workerData });
  const load = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(load, { eval: true, workerData });
}

/** How long after a thread died the next one starts. */
const RESTART_DELAY_MS = 1000;

/** Options of {@link ThreadAuditWriter}. */
export interface ThreadAuditWriterOptions
  extends
    Omit<AuditThreadOptions, 'redact' | 'replica'>,
    Pick<FileAuditWriterOptions, 'bufferSize' | 'maxQueued' | 'onFileReplaced'> {
  readonly syncIntervalMs: number;
  /** Attribute names redacted on top of the built-in ones. @default none */
  readonly redact?: readonly string[];
  /** The replica every command's record names. @default none */
  readonly replica?: string | undefined;
  readonly logger: Logger;
  /** The thread's entry module. @default audit-thread-main.js beside this one */
  readonly entry?: URL;
}

/** The counters of two threads' lifetimes together (`queued` is counted apart). */
function sumStats(a: AuditStats, b: AuditStats): AuditStats {
  return {
    written: a.written + b.written,
    dropped: a.dropped + b.dropped,
    bytes: a.bytes + b.bytes,
    flushes: a.flushes + b.flushes,
    errors: a.errors + b.errors,
    queued: 0,
    fileReplaced: a.fileReplaced + b.fileReplaced,
  };
}

/** A message sent and not answered yet. */
interface InFlight {
  readonly records: number;
  readonly resolve: () => void;
}

export class ThreadAuditWriter implements AuditWriter {
  readonly #options: ThreadAuditWriterOptions;
  readonly #timer: NodeJS.Timeout;
  #worker: Worker | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #pending = new RecordBatch();
  #inFlight = new Map<number, InFlight>();
  #inFlightRecords = 0;
  #nextId = 1;
  #isClosed = false;
  #head: AuditHead | undefined;
  /** The last thread's figures, and those of the threads before it. */
  #threadStats: AuditStats = ZERO_AUDIT_STATS;
  #pastStats: AuditStats = ZERO_AUDIT_STATS;
  #dropped = 0;
  readonly #dropWarning: DropWarning;

  constructor(options: ThreadAuditWriterOptions) {
    this.#options = options;
    this.#dropWarning = new DropWarning(options.logger, options.flushIntervalMs, Date.now);
    this.#timer = setInterval(() => this.#send(), options.flushIntervalMs);
    this.#timer.unref();
  }

  write(event: AuditEvent): void {
    if (this.#dropsNext()) return;
    this.#pending.add(prepareRecord(event, this.#options.encryptionKey));
    this.#sendWhenDue();
  }

  /**
   * A command's record as its facts: the writer's thread redacts them and
   * makes the record, with its id and time, as `commandEvent` does.
   */
  writeCommand(facts: CommandFacts): void {
    if (this.#dropsNext()) return;
    this.#pending.addFacts(facts);
    this.#sendWhenDue();
  }

  /** True (the record dropped and counted) when closed or `maxQueued` records wait. */
  #dropsNext(): boolean {
    if (!this.#isClosed && this.#pending.count + this.#inFlightRecords < this.#options.maxQueued)
      return false;
    this.#drop(1);
    return true;
  }

  /** Sends the batch once it holds `bufferSize` records or is nearly out of room. */
  #sendWhenDue(): void {
    if (this.#pending.count >= this.#options.bufferSize || this.#pending.isFull()) this.#send();
  }

  flush(): Promise<void> {
    return this.#send() ?? this.#post({ type: 'flush', id: this.#nextId++ }, 0);
  }

  /** The running thread; one is started when none runs and none is due to restart. */
  #thread(): Worker | undefined {
    if (this.#worker === undefined && this.#restartTimer === undefined) this.#start();
    return this.#worker;
  }

  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    // No thread and nothing waiting: nothing to write.
    if (this.#worker === undefined && this.#pending.count === 0) return;
    this.#send();
    const worker = this.#worker;
    await this.#post({ type: 'close', id: this.#nextId++ }, 0);
    // A thread that died while closing left records nobody will write.
    this.#drop(this.#pending.count);
    this.#pending = new RecordBatch();
    await worker?.terminate();
  }

  head(): AuditHead | undefined {
    return this.#head;
  }

  stats(): AuditStats {
    const threads = sumStats(this.#pastStats, this.#threadStats);
    return {
      ...threads,
      dropped: threads.dropped + this.#dropped,
      queued: this.#pending.count + this.#inFlightRecords,
    };
  }

  /** Hands the waiting records to the thread; the promise of their answer, or undefined when none wait. */
  #send(): Promise<void> | undefined {
    const records = this.#pending.count;
    if (records === 0 || this.#thread() === undefined) return undefined;
    return this.#post(this.#pending.take(this.#nextId++), records);
  }

  #post(message: ToAuditThread, records: number): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      // An answer awaited keeps the process alive (a flush at shutdown); an idle thread does not.
      if (this.#inFlight.size === 0) worker.ref();
      this.#inFlight.set(message.id, { records, resolve });
      this.#inFlightRecords += records;
      worker.postMessage(message, message.type === 'records' ? [message.bytes] : []);
    });
  }

  #start(): void {
    const { logger, entry = DEFAULT_ENTRY } = this.#options;
    const o = this.#options;
    const thread: AuditThreadOptions = {
      dir: o.dir,
      flushIntervalMs: o.flushIntervalMs,
      syncIntervalMs: o.syncIntervalMs,
      maxFileBytes: o.maxFileBytes,
      retentionDays: o.retentionDays,
      maxTotalBytes: o.maxTotalBytes ?? 0,
      integrityKey: o.integrityKey,
      encryptionKey: o.encryptionKey,
      redact: o.redact ?? [],
      replica: o.replica,
    };
    const worker = spawn(entry, { auditThread: thread });
    worker.unref();
    worker.on('message', (message: FromAuditThread) => this.#receive(message));
    worker.on('error', (err) =>
      logger.error({ code: ErrorCode.AuditWrite, err }, 'the audit writer thread failed'),
    );
    worker.on('exit', () => this.#exited());
    this.#worker = worker;
  }

  #receive(message: FromAuditThread): void {
    if (message.type === 'log') {
      this.#options.logger[message.level](message.fields, message.msg);
    } else if (message.type === 'fileReplaced') {
      this.#options.onFileReplaced?.(message.event);
    } else {
      this.#threadStats = message.stats;
      this.#head = message.head ?? this.#head;
      // Answers come in order: everything up to this id is done.
      for (const [id, sent] of this.#inFlight) {
        if (id > message.id) break;
        this.#settle(id, sent);
      }
    }
  }

  #settle(id: number, sent: InFlight): void {
    this.#inFlight.delete(id);
    this.#inFlightRecords -= sent.records;
    if (this.#inFlight.size === 0) this.#worker?.unref();
    sent.resolve();
  }

  /** The thread ended: after `close`, or because it died (its unanswered records are lost). */
  #exited(): void {
    this.#worker = undefined;
    const lost = this.#inFlightRecords;
    for (const [id, sent] of this.#inFlight) this.#settle(id, sent);
    this.#drop(lost);
    if (this.#isClosed) return;
    this.#pastStats = sumStats(this.#pastStats, this.#threadStats);
    this.#threadStats = ZERO_AUDIT_STATS;
    this.#options.logger.error(
      { code: ErrorCode.AuditWrite, lost },
      'the audit writer thread stopped; a new one resumes the chain from the files',
    );
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.#send();
    }, RESTART_DELAY_MS);
    this.#restartTimer.unref();
  }

  #drop(count: number): void {
    if (count === 0) return;
    this.#dropped += count;
    this.#dropWarning.dropped(this.stats().dropped);
  }
}
