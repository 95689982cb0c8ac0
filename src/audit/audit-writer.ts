import { randomUUID } from 'node:crypto';
import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ErrorCode } from '../errors.js';
import { AuditKind, AuditResult, type AuditEvent } from './audit-record.js';
import {
  auditFileName,
  parseAuditFileName,
  readTail,
  sortAuditFiles,
  utcDate,
  type AuditFileName,
} from './audit-files.js';
import { ChainLines, ZERO_HASH, eventBody } from './chain-line.js';
import type { CommandFacts } from './command-facts.js';
import { encryptDetails } from './details-cipher.js';
import { FileAppender, type AuditAppender, type LiveFileState } from './file-appender.js';

const DAY_MS = 86_400_000;

/** The last record on disk: keep a copy elsewhere to detect a cut-off tail. */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
  /** The file name (no folder) holding it. */
  readonly file: string;
}

/** Counters for metrics and the admin port. */
export interface AuditStats {
  /** Records on disk (or in the log). */
  readonly written: number;
  /** Records lost: the queue was full, the writer was closed, or the disk failed. */
  readonly dropped: number;
  /** Bytes appended. */
  readonly bytes: number;
  /** Batches written. */
  readonly flushes: number;
  /** Failed disk writes. */
  readonly errors: number;
  /** Records waiting for the disk now. */
  readonly queued: number;
  /** Times the live file was found replaced or removed on disk (a new file was started). */
  readonly fileReplaced: number;
}

/**
 * The warning for records dropped: at most one line per `intervalMs`, with
 * the total so far, so that a flood of drops does not flood the log.
 */
export class DropWarning {
  readonly #logger: AuditLogger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #lastAt = -Infinity;

  constructor(logger: AuditLogger, intervalMs: number, now: () => number) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** Records were dropped; `total` have been in all. */
  dropped(total: number): void {
    const now = this.#now();
    if (now - this.#lastAt < this.#intervalMs) return;
    this.#lastAt = now;
    this.#logger.warn(
      { code: ErrorCode.AuditDropped, dropped: total },
      'audit records dropped: the audit disk is too slow or failing',
    );
  }
}

/** The counters of a writer that has done nothing yet. */
export const ZERO_AUDIT_STATS: AuditStats = Object.freeze({
  written: 0,
  dropped: 0,
  bytes: 0,
  flushes: 0,
  errors: 0,
  queued: 0,
  fileReplaced: 0,
});

/** The live file was found replaced or removed on disk; the chain went on in `next`. */
export interface AuditFileReplacedEvent {
  /** The file name (no folder) that was written to. */
  readonly file: string;
  readonly reason: 'removed' | 'replaced';
  /** The new file's name. */
  readonly next: string;
  /** Bytes of the lost file copied into `next` (0 when none were). */
  readonly salvagedBytes: number;
  /** The last record written before it was noticed. */
  readonly seq: number;
}

/**
 * A record made ready for the chain where it was made: its UTC date (which
 * file it goes to) and its {@link eventBody}, details encrypted when a key
 * is set.
 */
export interface PreparedRecord {
  readonly date: string;
  /** As text, or as its UTF-8 bytes (from the writer thread's batch). */
  readonly body: string | Buffer;
}

/** A {@link PreparedRecord} whose body is text: as {@link prepareRecord} makes it. */
export interface PreparedText extends PreparedRecord {
  readonly body: string;
}

/** `event` as a {@link PreparedRecord}; with a 32-byte key its details are encrypted. */
export function prepareRecord(event: AuditEvent, encryptionKey: Buffer | undefined): PreparedText {
  const sealed =
    encryptionKey === undefined || event.details === undefined
      ? event
      : { ...event, details: { ...encryptDetails(event.details, encryptionKey) } };
  // An ISO timestamp starts with its UTC date.
  return { date: event.timestamp.slice(0, 10), body: eventBody(sealed) };
}

/** Where audit records go. */
export interface AuditWriter {
  /** Queues a record; synchronous and O(1), it never waits on the disk. */
  write(event: AuditEvent): void;
  /**
   * Queues a command's record below `full` as its facts, where the writer
   * makes the record off the proxy's thread (the threaded writer); a writer
   * without it is given the record made with `commandEvent`.
   */
  writeCommand?(facts: CommandFacts): void;
  /** Resolves once every record queued before the call is on disk. */
  flush(): Promise<void>;
  /** Flushes everything and stops; later records are dropped. */
  close(): Promise<void>;
  /** The last record written, or undefined before the first flush. */
  head(): AuditHead | undefined;
  stats(): AuditStats;
}

/** What a writer logs with (a pino logger is one). */
export interface AuditLogger {
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

/** Options of {@link FileAuditWriter}. */
export interface FileAuditWriterOptions {
  /** Folder of the audit files; created when missing. */
  readonly dir: string;
  /** Records that trigger a flush. @default 100 */
  readonly bufferSize: number;
  /** Time between flushes of a partial buffer. @default 5000 */
  readonly flushIntervalMs: number;
  /**
   * Least time between two fsyncs: a flush writes its records at once and
   * syncs them when the last sync is this long ago, else a timer syncs them
   * when it is. 0 syncs every flush. @default 0
   */
  readonly syncIntervalMs?: number;
  /** Records waiting beyond this are dropped. @default 1000 */
  readonly maxQueued: number;
  /** A file past this size continues in `audit-DATE.N.jsonl`. @default 104857600 */
  readonly maxFileBytes: number;
  /** Files dated more than this many days before today are deleted; 0 keeps all. @default 365 */
  readonly retentionDays: number;
  /**
   * The files together stay within this many bytes: when a new file starts,
   * the oldest whole files are deleted until the others and a full new file
   * fit. 0 bounds nothing. @default 0
   */
  readonly maxTotalBytes?: number;
  /** With a key the chain is HMAC-SHA256, else SHA-256. */
  readonly integrityKey?: Buffer | undefined;
  /** With a 32-byte key, `details` are encrypted (AES-256-GCM). */
  readonly encryptionKey?: Buffer | undefined;
  /** Only `warn` and `error` are used: a writer on another thread logs through its parent. */
  readonly logger: AuditLogger;
  /** The clock: retention and the drop warning's interval. */
  readonly now: () => number;
  /** @default a {@link FileAppender} */
  readonly appender?: AuditAppender;
  /** Called (after the log line) when the live file was replaced or removed: the dashboard's event. */
  readonly onFileReplaced?: (event: AuditFileReplacedEvent) => void;
}

interface OpenFile extends AuditFileName {
  readonly path: string;
  bytes: number;
  /** The file ends in a torn line: start the next record on a fresh line. */
  needsNewline: boolean;
}

/**
 * Writes records as hash-chained JSON lines (see chain-line.ts), buffered
 * and flushed with fsync, rotated daily and by size. The proxy never waits:
 * `write()` only queues, and a queue over `maxQueued` drops and counts.
 * After a crash the chain resumes from the last complete line on disk.
 */
export class FileAuditWriter implements AuditWriter {
  readonly #options: FileAuditWriterOptions;
  readonly #now: () => number;
  readonly #appender: AuditAppender;
  readonly #timer: NodeJS.Timeout;
  /** The sync of records written but not synced yet, when one is due. */
  #syncTimer: NodeJS.Timeout | undefined;
  readonly #syncIntervalMs: number;
  #syncedAt = -Infinity;
  #queue: PreparedRecord[] = [];
  #pending: Promise<void> | undefined;
  #tail: Promise<void> = Promise.resolve();
  #isReady = false;
  #isClosed = false;
  #seq = 0;
  #prev = ZERO_HASH;
  #file: OpenFile | undefined;
  #head: AuditHead | undefined;
  /** The head last written to head.json, and when (the writer's clock). */
  #headOnDisk: AuditHead | undefined;
  #headWrittenAt = -Infinity;
  readonly #dropWarning: DropWarning;
  #stats = { written: 0, dropped: 0, bytes: 0, flushes: 0, errors: 0, fileReplaced: 0 };

  constructor(options: FileAuditWriterOptions) {
    this.#options = options;
    this.#now = options.now;
    this.#appender = options.appender ?? new FileAppender();
    this.#syncIntervalMs = options.syncIntervalMs ?? 0;
    this.#dropWarning = new DropWarning(options.logger, options.flushIntervalMs, options.now);
    this.#timer = setInterval(() => void this.flush(), options.flushIntervalMs);
    this.#timer.unref();
  }

  write(event: AuditEvent): void {
    if (this.#isFull()) {
      this.#drop(1);
      return;
    }
    this.#queue.push(prepareRecord(event, this.#options.encryptionKey));
    if (this.#queue.length >= this.#options.bufferSize) void this.flush();
  }

  /**
   * Queues records prepared elsewhere ({@link prepareRecord}, on the thread
   * that made them); those beyond `maxQueued` are dropped. No flush starts:
   * the caller flushes.
   */
  writePrepared(records: readonly PreparedRecord[]): void {
    for (const record of records) {
      if (this.#isFull()) this.#drop(1);
      else this.#queue.push(record);
    }
  }

  #isFull(): boolean {
    return this.#isClosed || this.#queue.length >= this.#options.maxQueued;
  }

  flush(): Promise<void> {
    // One drain waiting to start takes the whole queue: share it.
    if (this.#pending !== undefined) return this.#pending;
    const pending = this.#tail.then(() => {
      this.#pending = undefined;
      return this.#drain();
    });
    this.#pending = pending;
    this.#tail = pending;
    return pending;
  }

  async close(): Promise<void> {
    this.#isClosed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    await this.flush();
    if (this.#head !== this.#headOnDisk) await this.#writeHead();
    await this.#appender.close();
  }

  head(): AuditHead | undefined {
    return this.#head;
  }

  stats(): AuditStats {
    return { ...this.#stats, queued: this.#queue.length };
  }

  #drop(count: number): void {
    this.#stats.dropped += count;
    this.#dropWarning.dropped(this.#stats.dropped);
  }

  async #drain(): Promise<void> {
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    try {
      if (!this.#isReady) await this.#resume();
      await this.#append(await this.#checkLiveFile(batch));
    } catch (err) {
      // Whatever part reached the disk is found again by the next resume.
      this.#isReady = false;
      this.#failed(err, batch.length);
    }
  }

  /** Counts and logs a failed disk write that lost `lost` records. */
  #failed(err: unknown, lost: number): void {
    this.#stats.errors++;
    this.#options.logger.error({ code: ErrorCode.AuditWrite, err, lost }, 'audit write failed');
    if (lost > 0) this.#drop(lost);
  }

  async #append(batch: readonly PreparedRecord[]): Promise<void> {
    const { maxFileBytes, integrityKey } = this.#options;
    const writes: { path: string; data: Buffer }[] = [];
    let file = this.#file === undefined ? undefined : { ...this.#file };
    const startPath = file?.path;
    const lines = new ChainLines();
    let seq = this.#seq;
    let prev = this.#prev;
    for (const { date, body } of batch) {
      if (file === undefined || date > file.date) {
        if (file !== undefined) writes.push({ path: file.path, data: lines.take() });
        file = this.#openFile({ date, index: 0 });
        await this.#prune();
      }
      seq++;
      const bytes = ChainLines.bytesOf(seq, body);
      if (file.bytes > 0 && file.bytes + bytes > maxFileBytes) {
        writes.push({ path: file.path, data: lines.take() });
        file = this.#openFile({ date: file.date, index: file.index + 1 });
      }
      if (file.needsNewline) {
        lines.newline();
        file.needsNewline = false;
        file.bytes++;
      }
      prev = lines.add(seq, prev, body, integrityKey);
      file.bytes += bytes;
    }
    writes.push({ path: (file as OpenFile).path, data: lines.take() });
    const isSyncDue = this.#isSyncDue();
    for (const { path, data } of writes) {
      if (data.length === 0) continue;
      await this.#appender.append(path, data, isSyncDue);
      this.#stats.bytes += data.length;
    }
    if (isSyncDue) this.#syncedAt = this.#now();
    else this.#scheduleSync();
    this.#seq = seq;
    this.#prev = prev;
    this.#file = file;
    if ((file as OpenFile).path !== startPath) await this.#bound();
    this.#head = { seq, hash: prev, file: basename((file as OpenFile).path) };
    // head.json is rewritten (write, rename, fsync) at most once per flush
    // interval, and whenever the chain moved to another file: at a high
    // rate, once per batch cost more than the batch itself (issue 19).
    // Crash recovery reads the files' tails, not the head; the first batch
    // after a start or a failure writes it, and close() the last one.
    if (
      this.#head.file !== this.#headOnDisk?.file ||
      this.#now() - this.#headWrittenAt >= this.#options.flushIntervalMs
    )
      await this.#writeHead();
    this.#stats.written += batch.length;
    this.#stats.flushes++;
  }

  /** True when this flush syncs: every flush, or the last sync is `syncIntervalMs` ago. */
  #isSyncDue(): boolean {
    const interval = this.#syncIntervalMs;
    return interval === 0 || this.#now() - this.#syncedAt >= interval;
  }

  /** Syncs the records a flush left unsynced once `syncIntervalMs` has passed since the last sync. */
  #scheduleSync(): void {
    if (this.#syncTimer !== undefined) return;
    const wait = this.#syncIntervalMs - (this.#now() - this.#syncedAt);
    this.#syncTimer = setTimeout(
      () => {
        this.#syncTimer = undefined;
        // In line with the flushes, so a sync never runs beside an append.
        this.#tail = this.#tail.then(() =>
          this.#appender.sync().then(
            () => {
              this.#syncedAt = this.#now();
            },
            (err: unknown) => this.#failed(err, 0),
          ),
        );
      },
      Math.max(0, wait),
    );
    this.#syncTimer.unref();
  }

  async #writeHead(): Promise<void> {
    const head = this.#head;
    this.#headWrittenAt = this.#now();
    await this.#appender
      .replace(join(this.#options.dir, 'head.json'), `${JSON.stringify(head)}\n`)
      .then(() => {
        this.#headOnDisk = head;
      })
      .catch((err: unknown) => this.#failed(err, 0));
  }

  /**
   * Before writing on, checks that the live file is still at its path. An
   * editor's `sed -i`, logrotate without copytruncate or an `rm` leaves the
   * open file unlinked, and every later record would go where nobody sees
   * it. Then: log an error, count it, start the next file of the day, and
   * make the event its first record, continuing the chain from the last
   * record written. When the path is gone or holds an empty file, the lost
   * file's bytes (still readable through the open handle) are copied into
   * the new file first, so the directory keeps the whole chain; a file put
   * in its place with content is left for `verify` to judge.
   */
  async #checkLiveFile(batch: PreparedRecord[]): Promise<PreparedRecord[]> {
    const file = this.#file;
    if (file === undefined) return batch;
    const live: LiveFileState = await this.#appender.check(file.path);
    if (live.state === 'same') return batch;
    const { dir, logger } = this.#options;
    await mkdir(dir, { recursive: true });
    const taken = (await this.#auditFiles())
      .map((name) => parseAuditFileName(name) as AuditFileName)
      .filter((name) => name.date === file.date)
      .map((name) => name.index);
    const next = this.#openFile({ date: file.date, index: Math.max(file.index, ...taken) + 1 });
    const isSalvaged = live.state === 'removed' || live.bytes === 0;
    const salvagedBytes = isSalvaged ? await this.#appender.salvage(next.path) : 0;
    await this.#appender.close();
    next.bytes = salvagedBytes;
    this.#file = next;
    this.#stats.fileReplaced++;
    const event: AuditFileReplacedEvent = {
      file: basename(file.path),
      reason: live.state,
      next: basename(next.path),
      salvagedBytes,
      seq: this.#seq,
    };
    logger.error(
      { code: ErrorCode.AuditFileReplaced, ...event },
      live.state === 'removed'
        ? 'the live audit file was removed on disk; the chain continues in a new file'
        : 'the live audit file was replaced on disk; the chain continues in a new file',
    );
    this.#options.onFileReplaced?.(event);
    const record: AuditEvent = {
      id: randomUUID(),
      timestamp: new Date(this.#now()).toISOString(),
      kind: AuditKind.AuditFile,
      level: 'metadata',
      category: 'security',
      action: live.state === 'removed' ? 'auditFileRemoved' : 'auditFileReplaced',
      result: AuditResult.Error,
      details: { ...event },
    };
    return [prepareRecord(record, this.#options.encryptionKey), ...batch];
  }

  #openFile(name: AuditFileName): OpenFile {
    return {
      ...name,
      path: join(this.#options.dir, auditFileName(name)),
      bytes: 0,
      needsNewline: false,
    };
  }

  /** Finds the chain's end and the newest file on disk. */
  async #resume(): Promise<void> {
    const { dir } = this.#options;
    await mkdir(dir, { recursive: true });
    const names = await this.#auditFiles();
    this.#seq = 0;
    this.#prev = ZERO_HASH;
    this.#file = undefined;
    this.#head = undefined;
    // The first batch after a start or a failure writes the head.
    this.#headWrittenAt = -Infinity;
    for (let i = names.length - 1; i >= 0; i--) {
      const name = names[i] as string;
      const tail = await readTail(join(dir, name));
      if (this.#file === undefined) {
        this.#file = {
          ...(parseAuditFileName(name) as AuditFileName),
          path: join(dir, name),
          bytes: tail.bytes,
          needsNewline: !tail.endsWithNewline,
        };
      }
      if (tail.last !== undefined) {
        this.#seq = tail.last.seq;
        this.#prev = tail.last.hash;
        this.#head = { seq: tail.last.seq, hash: tail.last.hash, file: name };
        break;
      }
    }
    await this.#prune();
    await this.#bound();
    this.#isReady = true;
  }

  /** Deletes files dated before the retention window. */
  async #prune(): Promise<void> {
    const { dir, retentionDays } = this.#options;
    if (retentionDays === 0) return;
    const oldest = utcDate(this.#now() - retentionDays * DAY_MS);
    for (const name of await this.#auditFiles()) {
      if ((parseAuditFileName(name) as AuditFileName).date < oldest)
        await unlinkIfThere(join(dir, name));
    }
  }

  /**
   * Keeps the trail within `maxTotalBytes`: deletes the oldest whole files
   * (never the live one) until the others and a full live file fit. Like age
   * retention it only cuts the chain's start, which `verify` accepts.
   */
  async #bound(): Promise<void> {
    const { dir, maxTotalBytes = 0, maxFileBytes, logger } = this.#options;
    if (maxTotalBytes === 0) return;
    const live = this.#file === undefined ? undefined : basename(this.#file.path);
    const older = (await this.#auditFiles()).filter((name) => name !== live);
    const sizes = await Promise.all(older.map((name) => sizeIfThere(join(dir, name))));
    let total = sizes.reduce((sum, size) => sum + size, 0);
    const removed: string[] = [];
    for (const [i, name] of older.entries()) {
      if (total + maxFileBytes <= maxTotalBytes) break;
      await unlinkIfThere(join(dir, name));
      total -= sizes[i] as number;
      removed.push(name);
    }
    if (removed.length > 0)
      logger.warn(
        { code: ErrorCode.AuditPruned, removed, maxTotalBytes },
        'audit files deleted, oldest first, to keep the trail within audit.maxTotalBytes',
      );
  }

  async #auditFiles(): Promise<string[]> {
    const names = await readdir(this.#options.dir);
    return sortAuditFiles(names.filter((name) => parseAuditFileName(name) !== undefined));
  }
}

/** A file another process (a log shipper, a cleaner) removed meanwhile is no error: it is gone either way. */
function isGone(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** The file's size; 0 when it went since it was listed. */
async function sizeIfThere(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if (isGone(err)) return 0;
    throw err;
  }
}

async function unlinkIfThere(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (!isGone(err)) throw err;
  }
}
