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
  prepareRecord,
  type AuditHead,
  type AuditLogger,
  type AuditStats,
  type FileAuditWriterOptions,
  type PreparedRecord,
  type PreparedText,
} from './audit-writer.js';
import {
  FactsReader,
  NO_REPLY,
  commandEvent,
  factsBound,
  stamped,
  writeFacts,
  type CommandFacts,
} from './command-facts.js';
import { Redactor } from './redactor.js';

/**
 * What the writer thread is started with: the file writer's options that
 * cross threads, and what it makes commands' records with.
 */
export interface AuditThreadOptions extends Pick<
  FileAuditWriterOptions,
  | 'dir'
  | 'flushIntervalMs'
  | 'syncIntervalMs'
  | 'maxFileBytes'
  | 'retentionDays'
  | 'maxTotalBytes'
  | 'integrityKey'
  | 'encryptionKey'
> {
  /** Attribute names redacted on top of the built-in ones (`audit.redact`). */
  readonly redact: readonly string[];
  /** The replica every record names, in a group of replicas. */
  readonly replica: string | undefined;
}

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
/** A text record's header: its type, its date's and its body's UTF-8 byte counts. */
const HEADER_BYTES = 9;
/** The most UTF-8 bytes one UTF-16 code unit can take. */
const MAX_UTF8_PER_UNIT = 3;
/** What a record in a batch is: text made on the proxy's thread, or a command's facts. */
const TEXT = 0;
const FACTS = 1;

/**
 * Records on their way to the writer thread, as bytes in a buffer of its own
 * that the message transfers: the proxy's thread posts no strings, which the
 * structured clone would copy again, one by one. A record is a type byte,
 * then either its text (the date's and the body's UTF-8 byte counts, 32-bit
 * little endian, and their bytes) or a command's facts ({@link writeFacts}),
 * which the writer's thread turns into text.
 */
export class RecordBatch {
  #buffer: Buffer | undefined;
  #length = 0;
  #count = 0;
  /** The table strings of this batch's facts. */
  #strings = new Map<string, number>();

  /** Records in the batch. */
  get count(): number {
    return this.#count;
  }

  add(record: PreparedText): void {
    const { date, body } = record;
    const buffer = this.#room(HEADER_BYTES + (date.length + body.length) * MAX_UTF8_PER_UNIT);
    const at = this.#length;
    const dateBytes = buffer.write(date, at + HEADER_BYTES, 'utf8');
    const bodyBytes = buffer.write(body, at + HEADER_BYTES + dateBytes, 'utf8');
    buffer[at] = TEXT;
    buffer.writeUInt32LE(dateBytes, at + 1);
    buffer.writeUInt32LE(bodyBytes, at + 5);
    this.#length = at + HEADER_BYTES + dateBytes + bodyBytes;
    this.#count++;
  }

  /** A command's record as its facts: the copy of its bytes and a few numbers. */
  addFacts(facts: CommandFacts): void {
    const buffer = this.#room(1 + factsBound(facts));
    buffer[this.#length] = FACTS;
    this.#length = writeFacts(buffer, this.#length + 1, facts, this.#strings);
    this.#count++;
  }

  /** The buffer, with at least `most` bytes of room after what it holds. */
  #room(most: number): Buffer {
    const buffer = this.#buffer;
    if (buffer !== undefined && buffer.length - this.#length >= most) return buffer;
    // A record larger than the room left: a larger buffer, the batch so far copied in.
    const larger = Buffer.allocUnsafeSlow(Math.max(BATCH_BYTES, this.#length + most));
    buffer?.copy(larger, 0, 0, this.#length);
    this.#buffer = larger;
    return larger;
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
    this.#strings = new Map();
    return message;
  }
}

/** The records of a {@link RecordsMessage}; `prepare` makes a command's facts a record. */
export function readBatch(
  message: RecordsMessage,
  prepare: (facts: CommandFacts) => PreparedRecord,
): PreparedRecord[] {
  const bytes = Buffer.from(message.bytes, 0, message.length);
  const facts = new FactsReader(bytes);
  const records: PreparedRecord[] = [];
  for (let at = 0; at < bytes.length;) {
    if (bytes[at] === FACTS) {
      const read = facts.read(at + 1);
      records.push(prepare(read.facts));
      at = read.end;
      continue;
    }
    const dateEnd = at + HEADER_BYTES + bytes.readUInt32LE(at + 1);
    const bodyEnd = dateEnd + bytes.readUInt32LE(at + 5);
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
  const encryptionKey = asBuffer(options.encryptionKey);
  const writer = new FileAuditWriter({
    ...options,
    integrityKey: asBuffer(options.integrityKey),
    encryptionKey,
    // The sending side batches and bounds the queue.
    bufferSize: Number.MAX_SAFE_INTEGER,
    maxQueued: Number.MAX_SAFE_INTEGER,
    logger,
    now: Date.now,
    onFileReplaced: (event) => send({ type: 'fileReplaced', event }),
  });
  const ack = (id: number): void =>
    send({ type: 'ack', id, stats: writer.stats(), head: writer.head() });
  const redactor = new Redactor(options.redact);
  /** A command's record, made here from its facts as the proxy's thread would make it. */
  const prepare = (facts: CommandFacts): PreparedRecord =>
    prepareRecord(
      stamped(commandEvent(facts, redactor, NO_REPLY), facts.timestamp, options.replica),
      encryptionKey,
    );
  port.on('message', (message: ToAuditThread) => {
    if (message.type === 'records') writer.writePrepared(readBatch(message, prepare));
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
