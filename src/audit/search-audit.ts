import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditRecord } from './audit-record.js';
import { NEWLINE, parseLine } from './chain-line.js';
import { parseAuditFileName, readLines, sortAuditFiles, utcDate } from './audit-files.js';
import { decryptDetails, isEncrypted } from './details-cipher.js';
import { compileGlob } from '../command/glob.js';

/** What {@link searchAudit} keeps; every filter optional, all must match. */
export interface AuditFilters {
  /** Earliest timestamp, ms since epoch, inclusive. */
  readonly from?: number;
  /** Latest timestamp, ms since epoch, inclusive. */
  readonly to?: number;
  /** `userId` equals. */
  readonly user?: string;
  readonly category?: string;
  /**
   * A glob over the menu path (`/ip/hotspot/**`) or over the command as the
   * client wrote it: `/system/reboot` finds records with path `/system` and
   * verb `reboot`.
   */
  readonly path?: string;
  /** `verb` equals (`add`, `remove`, `reboot`, ...). */
  readonly verb?: string;
  readonly result?: string;
  readonly router?: string;
  /** `replica` equals: the replica of a group that wrote the record. */
  readonly replica?: string;
  /** `ipAddress` equals. */
  readonly ip?: string;
  readonly kind?: string;
  /** The encryption key: encrypted `details` come back decrypted. */
  readonly key?: Buffer;
}

/** Fields compared for equality, and the record key each filter reads. */
const EXACT = [
  ['user', 'userId'],
  ['category', 'category'],
  ['result', 'result'],
  ['router', 'router'],
  ['replica', 'replica'],
  ['ip', 'ipAddress'],
  ['kind', 'kind'],
  ['verb', 'verb'],
] as const;

/** Fields a search or report reads as text: each a string when present. */
const TEXT_FIELDS = [
  'timestamp',
  'kind',
  'category',
  'action',
  'result',
  'userId',
  'ipAddress',
  'router',
  'replica',
  'path',
  'verb',
] as const;

/** True when `value` (an object: the line has a record's shape) has a record's field types too. */
function hasRecordTypes(value: unknown): value is AuditRecord {
  const record = value as Record<string, unknown>;
  return TEXT_FIELDS.every(
    (field) => record[field] === undefined || typeof record[field] === 'string',
  );
}

/** The command a record is about, as the client wrote it: path and verb joined. */
function commandOf(record: AuditRecord): string | undefined {
  if (record.path === undefined || record.verb === undefined) return undefined;
  return `${record.path === '/' ? '' : record.path}/${record.verb}`;
}

/**
 * Streams the records of the audit files in `dir` that match `filters`, in
 * the order written. Files dated outside `from`..`to` are not opened, and a
 * line is parsed only when it contains the exact `"field":"value"` text of
 * every equality filter. Lines that are not records (a torn line) are
 * skipped: `verifyFiles` reports them.
 */
export async function* searchAudit(
  dir: string,
  filters: AuditFilters = {},
): AsyncGenerator<AuditRecord> {
  const exact = EXACT.flatMap(([filter, field]) => {
    const value = filters[filter];
    return value === undefined
      ? []
      : [{ field, value, needle: Buffer.from(`"${field}":${JSON.stringify(value)}`) }];
  });
  // Compiled, not a regular expression: a search's glob must not backtrack.
  const path = filters.path === undefined ? undefined : compileGlob(filters.path);
  const fromDate = filters.from === undefined ? '' : utcDate(filters.from);
  const toDate = filters.to === undefined ? '9999' : utcDate(filters.to);
  const names = sortAuditFiles(
    (await readdir(dir)).filter((name) => {
      const parsed = parseAuditFileName(name);
      return parsed !== undefined && parsed.date >= fromDate && parsed.date <= toDate;
    }),
  );
  for (const name of names) {
    for await (const batch of readLines(join(dir, name))) {
      const matches: AuditRecord[] = [];
      for (const line of batch) {
        if (!exact.every(({ needle }) => line.includes(needle))) continue;
        // Only lines with a record's shape (seq, prev, hash): not a torn
        // line, nor one someone added without a hash (`audit verify` checks the hashes).
        if (
          parseLine(line[line.length - 1] === NEWLINE ? line.subarray(0, -1) : line) === undefined
        )
          continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(line.toString('utf8'));
        } catch {
          continue;
        }
        if (!hasRecordTypes(parsed)) continue;
        const record = parsed;
        if (!exact.every(({ field, value }) => record[field] === value)) continue;
        if (path !== undefined && !path(record.path ?? '') && !path(commandOf(record) ?? ''))
          continue;
        const time = Date.parse(record.timestamp);
        if (time < (filters.from ?? -Infinity) || time > (filters.to ?? Infinity)) continue;
        matches.push(decrypted(record, filters.key));
      }
      yield* matches;
    }
  }
}

function decrypted(record: AuditRecord, key: Buffer | undefined): AuditRecord {
  if (key === undefined || !isEncrypted(record.details)) return record;
  const details = decryptDetails(record.details, key);
  return details === undefined ? record : { ...record, details };
}
