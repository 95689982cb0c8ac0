/**
 * The audit writer's own thread: a {@link FileAuditWriter} fed with records
 * prepared on the proxy's thread ({@link ThreadAuditWriter}). Hashing the
 * chain, building lines and the file work happen here, off the thread that
 * relays commands. audit-thread-main.ts starts it in a worker; the host
 * runs on any message port (tests use a MessageChannel).
 */
import type { MessagePort } from 'node:worker_threads';
import {
  FileAuditWriter,
  type AuditHead,
  type AuditLogger,
  type AuditStats,
  type FileAuditWriterOptions,
  type PreparedRecord,
} from './audit-writer.js';

/** What the writer thread is started with: the file writer's options that cross threads. */
export type AuditThreadOptions = Pick<
  FileAuditWriterOptions,
  | 'dir'
  | 'flushIntervalMs'
  | 'syncIntervalMs'
  | 'maxFileBytes'
  | 'retentionDays'
  | 'integrityKey'
  | 'encryptionKey'
>;

/** A batch of records, each its date's 10 characters followed by its body. */
export interface RecordsMessage {
  readonly type: 'records';
  readonly id: number;
  readonly records: readonly string[];
}

/** Write everything sent before (`flush`), or that and stop (`close`). */
export interface ControlMessage {
  readonly type: 'flush' | 'close';
  readonly id: number;
}

export type ToAuditThread = RecordsMessage | ControlMessage;

/** Message `id` is done: its records are on disk (or counted lost). */
export interface AckMessage {
  readonly type: 'ack';
  readonly id: number;
  readonly stats: AuditStats;
  readonly head: AuditHead | undefined;
}

/** A line for the parent's log. */
export interface LogMessage {
  readonly type: 'log';
  readonly level: 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly msg: string;
}

/** The live file was replaced or removed on disk. */
export interface FileReplacedMessage {
  readonly type: 'fileReplaced';
  readonly event: Parameters<NonNullable<FileAuditWriterOptions['onFileReplaced']>>[0];
}

export type FromAuditThread = AckMessage | LogMessage | FileReplacedMessage;

/** The key of a record as it crosses: its date, then its body. */
export function encodeRecord(record: PreparedRecord): string {
  return record.date + record.body;
}

function decodeRecord(text: string): PreparedRecord {
  return { date: text.slice(0, 10), body: text.slice(10) };
}

/** Structured cloning keeps an error's message and stack but not its `code`: send a plain copy. */
function plainFields(fields: Record<string, unknown>): Record<string, unknown> {
  const err = fields['err'];
  if (!(err instanceof Error)) return fields;
  const { name, message, stack } = err;
  return { ...fields, err: { type: name, message, stack, code: (err as { code?: unknown }).code } };
}

/** A key that crossed threads arrives as a Uint8Array. */
function asBuffer(key: Uint8Array | undefined): Buffer | undefined {
  return key === undefined ? undefined : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
}

/** Serves one writer on `port` until a `close` message has been answered. */
export function hostAuditThread(port: MessagePort, options: AuditThreadOptions): void {
  const send = (message: FromAuditThread): void => port.postMessage(message);
  const log =
    (level: LogMessage['level']) =>
    (fields: Record<string, unknown>, msg: string): void =>
      send({
        type: 'log',
        level,
        fields: plainFields(fields),
        msg,
      });
  const logger: AuditLogger = { warn: log('warn'), error: log('error') };
  const writer = new FileAuditWriter({
    ...options,
    integrityKey: asBuffer(options.integrityKey),
    encryptionKey: asBuffer(options.encryptionKey),
    // The sending side batches and bounds the queue.
    bufferSize: Number.MAX_SAFE_INTEGER,
    maxQueued: Number.MAX_SAFE_INTEGER,
    logger,
    now: Date.now,
    onFileReplaced: (event) => send({ type: 'fileReplaced', event }),
  });
  const ack = (id: number): void =>
    send({ type: 'ack', id, stats: writer.stats(), head: writer.head() });
  port.on('message', (message: ToAuditThread) => {
    if (message.type === 'records') writer.writePrepared(message.records.map(decodeRecord));
    if (message.type === 'close') {
      void writer.close().then(() => {
        ack(message.id);
        port.close();
      });
      return;
    }
    void writer.flush().then(() => ack(message.id));
  });
}
