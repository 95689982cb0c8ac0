/**
 * `rosgate audit verify|search|report`: check, query and summarize the
 * audit files.
 */
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { AuditResult, type AuditRecord } from './audit-record.js';
import { encryptionKeyOf, integrityKeyOf } from './audit-keys.js';
import { REPORT_GROUPS, reportAudit, type AuditReport, type ReportGroup } from './report-audit.js';
import { searchAudit, type AuditFilters } from './search-audit.js';
import { verifyFiles, type VerifyResult } from './verify-files.js';

const USAGE = `usage:
  rosgate audit verify FILE... [--head SEQ:HASH|head.json] [--key-file F]
  rosgate audit search [--from T] [--to T] [--user U] [--category C] [--path GLOB]
                       [--verb V] [--result R] [--router R] [--replica R] [--ip A]
                       [--format json|table]
                       [--dir logs/audit] [--key-file F]
  rosgate audit report --group-by category|user|path|result|router [--from T] [--to T]
                       [--format json|table] [--dir logs/audit]
T is an ISO date (a whole UTC day) or date-time. --path matches the menu path or the
command as written (/system/reboot is path /system, verb reboot).
verify exits 0 when intact, 1 when tampered, 2 when a file cannot be read.`;

/** Exit codes of `rosgate audit`. */
export const AuditExit = { Ok: 0, Tampered: 1, Unreadable: 2 } as const;

/** The streams `rosgate audit` writes to. */
export interface AuditCliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** A bad command line: print the reason and the usage, exit 2. */
class UsageError extends Error {}

/**
 * Runs `rosgate audit <verify|search|report> ...` (`argv` is what follows
 * `audit`) and resolves with the exit code.
 */
export async function runAuditCli(argv: string[], io: AuditCliIo): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'verify':
        return await verify(args, io);
      case 'search':
        return await search(args, io);
      case 'report':
        return await report(args, io);
      case undefined:
      case 'help':
      case '--help':
        io.stdout.write(`${USAGE}\n`);
        return command === undefined ? AuditExit.Unreadable : AuditExit.Ok;
      default:
        throw new UsageError(`unknown audit command "${command}"`);
    }
  } catch (err) {
    if (
      err instanceof UsageError ||
      String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')
    ) {
      io.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    } else {
      io.stderr.write(`cannot read the audit log: ${(err as Error).message}\n`);
    }
    return AuditExit.Unreadable;
  }
}

async function verify(args: string[], io: AuditCliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { head: { type: 'string' }, 'key-file': { type: 'string' } },
  });
  if (positionals.length === 0) throw new UsageError('verify needs at least one FILE');
  const key =
    values['key-file'] === undefined
      ? undefined
      : integrityKeyOf(await readText(values['key-file']));
  const head = values.head === undefined ? undefined : await parseHead(values.head);
  const result = await verifyFiles(positionals, {
    ...(head === undefined ? {} : { head }),
    ...(key === undefined ? {} : { key }),
  });
  await print(io.stdout, verdictText(result, key !== undefined));
  return result.ok ? AuditExit.Ok : AuditExit.Tampered;
}

function verdictText(result: VerifyResult, isKeyed: boolean): string {
  const lines = result.problems.map(
    (p) => `${basename(p.file)}:${p.line}: seq ${p.seq}: ${p.kind}`,
  );
  if (result.problemCount > result.problems.length)
    lines.push(`... and ${result.problemCount - result.problems.length} more problems`);
  const torn = result.problems.filter((p) => p.kind === 'torn').length;
  if (result.ok) {
    const last =
      result.last === undefined ? 'no records' : `head ${result.last.seq}:${result.last.hash}`;
    lines.push(`intact: ${result.records} records, ${last}`);
    if (torn > 0) lines.push(`${torn} torn line(s): a record cut short by a crash, not counted`);
  } else {
    lines.push(
      `tampered: ${result.problemCount} problem(s) in ${result.records} records, first bad seq ${result.firstBadSeq}`,
    );
    if (!isKeyed && result.problems[0]?.kind === 'hash')
      lines.push('if the log was written with ENABLE_AUDIT_INTEGRITY, pass --key-file');
  }
  return `${lines.join('\n')}\n`;
}

/** `SEQ:HASH`, or the path of a head.json kept elsewhere. */
async function parseHead(text: string): Promise<{ seq: number; hash: string }> {
  const match = /^(\d+):([0-9a-f]{64})$/.exec(text);
  if (match !== null) return { seq: Number(match[1]), hash: match[2] as string };
  let head: unknown;
  try {
    head = JSON.parse(await readText(text));
  } catch {
    throw new UsageError('--head must be SEQ:HASH (64 hex digits) or a head.json file');
  }
  const { seq, hash } = Object(head) as { seq?: unknown; hash?: unknown };
  if (typeof seq !== 'number' || typeof hash !== 'string')
    throw new UsageError('--head file must hold {"seq": N, "hash": "..."}');
  return { seq, hash };
}

const FILTER_OPTIONS = {
  from: { type: 'string' },
  to: { type: 'string' },
  format: { type: 'string', default: 'table' },
  dir: { type: 'string', default: 'logs/audit' },
} as const;

async function search(args: string[], io: AuditCliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...FILTER_OPTIONS,
      user: { type: 'string' },
      category: { type: 'string' },
      path: { type: 'string' },
      verb: { type: 'string' },
      result: { type: 'string' },
      router: { type: 'string' },
      replica: { type: 'string' },
      ip: { type: 'string' },
      'key-file': { type: 'string' },
    },
  });
  const format = formatOf(values.format);
  let key: Buffer | undefined;
  if (values['key-file'] !== undefined) {
    key = encryptionKeyOf(await readText(values['key-file']));
    if (key === undefined)
      throw new UsageError('--key-file must hold 64 hex digits or base64 of 32 bytes');
  }
  const filters: AuditFilters = {
    ...timeRange(values.from, values.to),
    ...defined({
      user: values.user,
      category: values.category,
      path: values.path,
      verb: values.verb,
      result: values.result,
      router: values.router,
      replica: values.replica,
      ip: values.ip,
      key,
    }),
  };
  if (format === 'table') await print(io.stdout, `${tableRow(TABLE_HEADER)}\n`);
  for await (const record of searchAudit(values.dir, filters)) {
    await print(
      io.stdout,
      `${format === 'json' ? JSON.stringify(record) : tableRow(tableCells(record))}\n`,
    );
  }
  return AuditExit.Ok;
}

async function report(args: string[], io: AuditCliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...FILTER_OPTIONS, 'group-by': { type: 'string' } },
  });
  const format = formatOf(values.format);
  const groupBy = values['group-by'];
  if (!REPORT_GROUPS.includes(groupBy as ReportGroup))
    throw new UsageError(`--group-by must be one of ${REPORT_GROUPS.join(', ')}`);
  const result = await reportAudit(values.dir, {
    ...timeRange(values.from, values.to),
    groupBy: groupBy as ReportGroup,
  });
  await print(io.stdout, format === 'json' ? `${JSON.stringify(result)}\n` : reportTable(result));
  return AuditExit.Ok;
}

function formatOf(format: string): 'json' | 'table' {
  if (format !== 'json' && format !== 'table')
    throw new UsageError('--format must be json or table');
  return format;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** `--from`/`--to` as ms; a bare date covers that whole UTC day. */
function timeRange(
  from: string | undefined,
  to: string | undefined,
): { from?: number; to?: number } {
  const parse = (name: string, text: string, endOfDay: boolean): number => {
    const ms = Date.parse(
      DATE_ONLY.test(text) ? `${text}T${endOfDay ? '23:59:59.999' : '00:00:00.000'}Z` : text,
    );
    if (Number.isNaN(ms)) throw new UsageError(`--${name} must be an ISO date or date-time`);
    return ms;
  };
  return {
    ...(from === undefined ? {} : { from: parse('from', from, false) }),
    ...(to === undefined ? {} : { to: parse('to', to, true) }),
  };
}

/** The entries of `values` that are not undefined. */
function defined<T extends object>(values: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

const TABLE_HEADER = ['timestamp', 'user', 'ip', 'router', 'result', 'action'];
const WIDTHS = [24, 16, 15, 10, 9];

function tableCells(record: AuditRecord): string[] {
  return [
    record.timestamp,
    record.userId ?? '-',
    record.ipAddress ?? '-',
    record.router ?? '-',
    record.result,
    record.action,
  ];
}

/** Cells padded to fixed widths, so rows stream without measuring them all first. */
function tableRow(cells: readonly string[]): string {
  return cells
    .map((cell, i) => cell.padEnd(WIDTHS[i] ?? 0))
    .join('  ')
    .trimEnd();
}

function reportTable(report: AuditReport): string {
  const results = Object.values(AuditResult);
  const header = [report.groupBy, 'total', ...results];
  const rows = [
    header,
    ...report.rows.map((row) => [
      row.key,
      String(row.total),
      ...results.map((r) => String(row.results[r] ?? 0)),
    ]),
    ['(all)', String(report.total), ...results.map(() => '')],
  ];
  const widths = header.map((_, i) => Math.max(...rows.map((row) => (row[i] as string).length)));
  const text = rows.map((row) =>
    row
      .map((cell, i) =>
        i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number),
      )
      .join('  ')
      .trimEnd(),
  );
  return `${text.join('\n')}\n`;
}

async function readText(path: string): Promise<string> {
  return (await readFile(path)).toString('utf8');
}

/** Writes, waiting when the stream is full (a pipe to `less`). */
async function print(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}
