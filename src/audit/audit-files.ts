/**
 * Audit file names and reading: `audit-YYYY-MM-DD.jsonl`, then
 * `audit-YYYY-MM-DD.1.jsonl`, `.2`, ... when a day outgrows `maxFileBytes`.
 * Dates are UTC.
 */
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseLine, type ChainLine } from './chain-line.js';

const NAME = /^audit-(\d{4}-\d{2}-\d{2})(?:\.(\d+))?\.jsonl$/;
const NEWLINE = 0x0a;
const CHUNK_BYTES = 1 << 20;

/** A file's place in the sequence of audit files. */
export interface AuditFileName {
  /** `YYYY-MM-DD`. */
  readonly date: string;
  /** 0 for the day's first file, then 1, 2, ... */
  readonly index: number;
}

/** The UTC date of a time: `2024-05-01`. */
export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The second {@link isoTimestamp} formatted last, and its text up to the `.`. */
let isoSecond = NaN;
let isoPrefix = '';

/**
 * `new Date(ms).toISOString()`, cheaper: every record carries one, and
 * records of one second share everything up to the milliseconds.
 */
export function isoTimestamp(ms: number): string {
  const whole = Math.floor(ms);
  const second = Math.floor(whole / 1000);
  if (second !== isoSecond) {
    const text = new Date(whole).toISOString();
    // Years outside 0000-9999 are written another way: no prefix to share.
    if (text.length !== 24) return text;
    isoSecond = second;
    isoPrefix = text.slice(0, 20);
  }
  const millis = whole - second * 1000;
  return `${isoPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}

/** `audit-2024-05-01.jsonl`, or `audit-2024-05-01.2.jsonl` for index 2. */
export function auditFileName({ date, index }: AuditFileName): string {
  return index === 0 ? `audit-${date}.jsonl` : `audit-${date}.${index}.jsonl`;
}

/** The date and index of an audit file's name (any folder), or undefined. */
export function parseAuditFileName(path: string): AuditFileName | undefined {
  const match = NAME.exec(basename(path));
  if (match === null) return undefined;
  return { date: match[1] as string, index: match[2] === undefined ? 0 : Number(match[2]) };
}

/**
 * Audit files in the order they were written (by date, then index: a
 * plain name sort would put `.1` before the day's first file). When any
 * name is not an audit file name, the given order is kept.
 */
export function sortAuditFiles(paths: readonly string[]): string[] {
  const keyed: { path: string; key: string }[] = [];
  for (const path of paths) {
    const name = parseAuditFileName(path);
    if (name === undefined) return [...paths];
    keyed.push({ path, key: `${name.date}.${String(name.index).padStart(10, '0')}` });
  }
  return keyed
    .sort((a, b) => Number(a.key > b.key) - Number(a.key < b.key))
    .map((entry) => entry.path);
}

/**
 * The lines of a file, in batches per chunk read: each line a view that
 * ends with its `\n`, except a last line cut short. Views are valid until
 * the next batch is requested.
 */
export async function* readLines(path: string): AsyncGenerator<Buffer[]> {
  const handle = await open(path, 'r');
  try {
    let carry: Buffer | undefined;
    while (true) {
      const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
      const { bytesRead } = await handle.read(chunk, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) break;
      const data =
        carry === undefined
          ? chunk.subarray(0, bytesRead)
          : Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
      const lines: Buffer[] = [];
      let from = 0;
      for (let at = data.indexOf(NEWLINE); at >= 0; at = data.indexOf(NEWLINE, from)) {
        lines.push(data.subarray(from, at + 1));
        from = at + 1;
      }
      carry = from === data.length ? undefined : data.subarray(from);
      if (lines.length > 0) yield lines;
    }
    if (carry !== undefined) yield [carry];
  } finally {
    await handle.close();
  }
}

/** The last complete record of a file, and how the file ends. */
export interface FileTail {
  readonly last?: ChainLine;
  readonly bytes: number;
  /** True when the file is empty or ends with `\n`. */
  readonly endsWithNewline: boolean;
}

/**
 * Finds the last complete record of a file, reading backwards in growing
 * windows so a long file costs only its tail. A torn line after it is
 * skipped (verify reports it).
 */
export async function readTail(path: string): Promise<FileTail> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size === 0) return { bytes: 0, endsWithNewline: true };
    let window = 64 * 1024;
    while (true) {
      const from = Math.max(0, size - window);
      const data = Buffer.alloc(size - from);
      await handle.read(data, 0, data.length, from);
      const endsWithNewline = data[data.length - 1] === NEWLINE;
      let end = endsWithNewline ? data.length - 1 : data.length;
      while (end > 0) {
        const newline = data.lastIndexOf(NEWLINE, end - 1);
        // Before the first newline of a window that does not start the file
        // lies a partial line: read a wider window instead.
        if (newline < 0 && from > 0) break;
        const last = parseLine(data.subarray(newline + 1, end));
        if (last !== undefined) return { last, bytes: size, endsWithNewline };
        end = newline;
      }
      if (from === 0) return { bytes: size, endsWithNewline };
      window *= 4;
    }
  } finally {
    await handle.close();
  }
}
