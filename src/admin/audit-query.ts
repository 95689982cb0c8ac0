/**
 * The audit endpoints' input: search filters from the query string of
 * `GET /monitoring/audit-logs`, and the JSON body of
 * `POST /monitoring/audit-report`. Both are checked here, so the audit
 * module only ever gets well-formed filters.
 */
import { z } from 'zod';
import { MAX_ANY_SEGMENTS, anySegmentCount } from '../command/glob.js';

/** Most records one search returns. */
export const MAX_AUDIT_LIMIT = 1000;

/** The fields a report can group by. */
export const AUDIT_GROUPS = ['category', 'user', 'path', 'result', 'router'] as const;

const text = z
  .string({ error: 'must be a string' })
  .min(1, { error: 'must not be empty' })
  .max(256, { error: 'must be at most 256 characters' });

/** An ISO 8601 date or time (`2025-01-31`, `2025-01-31T12:00:00Z`), as ms since epoch. */
const timestamp = z
  .string({ error: 'must be an ISO 8601 date or time' })
  .regex(/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/, {
    error: 'must be an ISO 8601 date or time',
  })
  .transform((value, ctx) => {
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: 'must be an ISO 8601 date or time' });
      return z.NEVER;
    }
    return ms;
  });

const filters = {
  /** Earliest record time, inclusive. */
  from: timestamp.optional(),
  /** Latest record time, inclusive. */
  to: timestamp.optional(),
  user: text.optional(),
  category: text.optional(),
  /**
   * A glob over the menu path (`/ip/hotspot/**`) or the command
   * (`/system/reboot`); a few `**` at most, each one multiplies the work
   * a record takes to match.
   */
  path: text
    .refine((glob) => anySegmentCount(glob) <= MAX_ANY_SEGMENTS, {
      error: `must have at most ${MAX_ANY_SEGMENTS} ** segments`,
    })
    .optional(),
  /** The command's verb (`add`, `reboot`, ...). */
  verb: text.optional(),
  result: text.optional(),
  router: text.optional(),
  /** The replica that wrote the record (a group of replicas). */
  replica: text.optional(),
  ip: text.optional(),
  kind: text.optional(),
};

/** The guide's names for `from` and `to`, accepted as aliases. */
const aliases = { startDate: timestamp.optional(), endDate: timestamp.optional() };

/** `startDate` and `endDate` become `from` and `to`; giving a name and its alias is an error. */
function withAliases<
  T extends {
    from?: number | undefined;
    to?: number | undefined;
    startDate?: number | undefined;
    endDate?: number | undefined;
  },
>(query: T, ctx: z.RefinementCtx) {
  const { startDate, endDate, ...rest } = query;
  for (const [alias, value, name] of [
    ['startDate', startDate, 'from'],
    ['endDate', endDate, 'to'],
  ] as const) {
    if (value !== undefined && rest[name] !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: [alias],
        message: `is ${name} by another name: give one`,
      });
  }
  const from = rest.from ?? startDate;
  const to = rest.to ?? endDate;
  return { ...rest, ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) };
}

/** `GET /monitoring/audit-logs` query parameters. */
export const auditSearchQuery = z
  .strictObject({
    ...filters,
    ...aliases,
    /** @default 100 */
    limit: z.coerce
      .number({ error: 'must be a number' })
      .int({ error: 'must be an integer' })
      .min(1, { error: `must be 1-${MAX_AUDIT_LIMIT}` })
      .max(MAX_AUDIT_LIMIT, { error: `must be 1-${MAX_AUDIT_LIMIT}` })
      .default(100),
  })
  .transform(withAliases);
export type AuditSearchQuery = z.output<typeof auditSearchQuery>;

/** `POST /monitoring/audit-report` body. */
export const auditReportQuery = z
  .strictObject(
    {
      ...filters,
      ...aliases,
      groupBy: z.enum(AUDIT_GROUPS, { error: `must be one of ${AUDIT_GROUPS.join(', ')}` }),
    },
    { error: 'must be a JSON object' },
  )
  .transform(withAliases);
export type AuditReportQuery = z.output<typeof auditReportQuery>;

/** The first problem of a failed parse: the field it names and what is wrong. */
export interface InputProblem {
  readonly field: string;
  readonly error: string;
}

/** Parses `input` with `schema`, or returns the first problem (an unknown key is named as the field). */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  root: string,
): { ok: true; value: z.output<S> } | { ok: false; problem: InputProblem } {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0] as z.core.$ZodIssue;
  if (issue.code === 'unrecognized_keys') {
    const field = issue.keys[0] as string;
    return { ok: false, problem: { field, error: `${field} is not a known field` } };
  }
  const field = issue.path.length === 0 ? root : issue.path.map(String).join('.');
  return { ok: false, problem: { field, error: `${field} ${issue.message}` } };
}
