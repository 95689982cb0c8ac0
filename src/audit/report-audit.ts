import type { AuditRecord } from './audit-record.js';
import { searchAudit, type AuditFilters } from './search-audit.js';

/** The fields a report can group by. */
export const REPORT_GROUPS = ['category', 'user', 'path', 'result', 'router'] as const;
export type ReportGroup = (typeof REPORT_GROUPS)[number];

const FIELD = {
  category: 'category',
  user: 'userId',
  path: 'path',
  result: 'result',
  router: 'router',
} as const satisfies Record<ReportGroup, keyof AuditRecord>;

/** One group of a report: its records, by result. */
export interface ReportRow {
  /** The group's value; `-` for records without the field (a login has no path). */
  readonly key: string;
  readonly total: number;
  /** Records per result: `{ success: 12, denied: 1 }`. */
  readonly results: Readonly<Record<string, number>>;
}

/** Counts per group and result. */
export interface AuditReport {
  readonly groupBy: ReportGroup;
  readonly total: number;
  /** Largest group first. */
  readonly rows: readonly ReportRow[];
}

/** Counts the records of `dir` (within `filters`) per `groupBy` value and result. */
export async function reportAudit(
  dir: string,
  options: AuditFilters & { readonly groupBy: ReportGroup },
): Promise<AuditReport> {
  const groups = new Map<string, { total: number; results: Record<string, number> }>();
  let total = 0;
  for await (const record of searchAudit(dir, options)) {
    const key = String(record[FIELD[options.groupBy]] ?? '-');
    let group = groups.get(key);
    if (group === undefined) {
      group = { total: 0, results: {} };
      groups.set(key, group);
    }
    group.total++;
    group.results[record.result] = (group.results[record.result] ?? 0) + 1;
    total++;
  }
  const rows = [...groups].map(([key, group]) => ({ key, ...group }));
  rows.sort((a, b) => b.total - a.total || Number(a.key > b.key) - Number(a.key < b.key));
  return { groupBy: options.groupBy, total, rows };
}
