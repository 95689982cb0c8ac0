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
  type PreparedText,
} from './audit-writer.js';

/** What the writer thread is started with: the file writer's options that cross threads. */
export type AuditThreadOptions = Pick<
  FileAuditWriterOptions,
  | 'dir'
  | 'flushIntervalMs'
  | 'syncIntervalMs'
  | 'maxFileBytes'
  | 'retentionDays'
  | 'maxTotalBytes'
  | 'integrityKey'
  | 'encryptionKey'
>;

/** A batch of records as {@link RecordBatch} wrote them; `bytes` is transferred, not copied. */
export interface RecordsMessage {
  readonly type: 'records';
  readonly id: number;
  readonly bytes: ArrayBuffer;
  /** How much of `bytes` holds records. */
  readonly length: number;
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

/** Bytes a batch starts with; a record that needs more gets a buffer of its own size. */
const BATCH_BYTES = 64 * 1024;
/** A record's header: its date's and its body's UTF-8 byte counts. */
const HEADER_BYTES = 8;
/** The most UTF-8 bytes one UTF-16 code unit can take. */
const MAX_UTF8_PER_UNIT = 3;

/**
 * Records on their way to the writer thread, as UTF-8 in a buffer of its own
 * that the message transfers: the proxy's thread copies each record's text
 * once into bytes (a native write) and posts no strings, which the structured
 * clone would copy again, one by one. Each record: the date's and the body's
 * byte counts (32-bit little endian), then their bytes.
 */
export class RecordBatch {
  #buffer: Buffer | undefined;
  #length = 0;
  #count = 0;

  /** Records in the batch. */
  get count(): number {
    return this.#count;
  }

  add(record: PreparedText): void {
    const { date, body } = record;
    const most = HEADER_BYTES + (date.length + body.length) * MAX_UTF8_PER_UNIT;
    let buffer = this.#buffer;
    if (buffer === undefined || buffer.length - this.#length < most) {
      // A record larger than the room left: a larger buffer, the batch so far copied in.
      const larger = Buffer.allocUnsafeSlow(Math.max(BATCH_BYTES, this.#length + most));
      buffer?.copy(larger, 0, 0, this.#length);
      buffer = this.#buffer = larger;
    }
    const at = this.#length;
    const dateBytes = buffer.write(date, at + HEADER_BYTES, 'utf8');
    const bodyBytes = buffer.write(body, at + HEADER_BYTES + dateBytes, 'utf8');
    buffer.writeUInt32LE(dateBytes, at);
    buffer.writeUInt32LE(bodyBytes, at + 4);
    this.#length = at + HEADER_BYTES + dateBytes + bodyBytes;
    this.#count++;
  }

  /** True when the next record may not fit: send the batch first. */
  isFull(): boolean {
    return this.#buffer !== undefined && this.#buffer.length - this.#length < BATCH_BYTES / 8;
  }

  /** The batch's message (its buffer is handed over), and an empty batch again. */
  take(id: number): RecordsMessage {
    const message: RecordsMessage = {
      type: 'records',
      id,
      bytes: (this.#buffer as Buffer).buffer as ArrayBuffer,
      length: this.#length,
    };
    this.#buffer = undefined;
    this.#length = 0;
    this.#count = 0;
    return message;
  }
}

/** The records of a {@link RecordsMessage}. */
export function readBatch(message: RecordsMessage): PreparedRecord[] {
  const bytes = Buffer.from(message.bytes, 0, message.length);
  const records: PreparedRecord[] = [];
  for (let at = 0; at < bytes.length;) {
    const dateEnd = at + HEADER_BYTES + bytes.readUInt32LE(at);
    const bodyEnd = dateEnd + bytes.readUInt32LE(at + 4);
    records.push({
      date: bytes.toString('utf8', at + HEADER_BYTES, dateEnd),
      // The bytes themselves: the line is built from bytes, no text is made.
      body: bytes.subarray(dateEnd, bodyEnd),
    });
    at = bodyEnd;
  }
  return records;
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
    if (message.type === 'records') writer.writePrepared(readBatch(message));
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
