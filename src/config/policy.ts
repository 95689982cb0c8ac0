/**
 * The `policy` section: who may run what (rules and roles), input rules,
 * attack detection and the brute-force lockout (src/policy).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { MAX_TIMER_MS, env, setting } from './settings.js';

/** `/ip/hotspot/user/*`, `/system/**`, `/export`: segments are names, `*` (one) or `**` (any depth). */
export const COMMAND_GLOB_PATTERN = /^(?:\/(?:\*\*|\*|[A-Za-z0-9._-]+))+$/;

const glob = z
  .string()
  .regex(COMMAND_GLOB_PATTERN, 'must be a command glob such as /ip/hotspot/user/* or /system/**');

const names = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

function isRegExp(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

const condition = z
  .object({
    /** The attribute's name, without `=`: `comment`, `.id`. */
    name: z.string().min(1),
    /** The value equals this text (the value read as UTF-8, else windows-1252). */
    equals: z.string().optional(),
    /** The value (read as for equals) matches this regular expression. */
    matches: z.string().refine(isRegExp, 'must be a valid regular expression').optional(),
    /** The attribute is there (true) or not (false). */
    present: z.boolean().optional(),
  })
  .strict()
  .refine(
    (c) => [c.equals, c.matches, c.present].filter((v) => v !== undefined).length === 1,
    'must have exactly one of equals, matches or present',
  );

const rule = z
  .object({
    /** Shown in the trap (`rosgate rule NAME`), the audit record and the metrics. */
    name: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, 'must be 1-64 letters, digits or . _ : -'),
    action: z.enum(['allow', 'deny', 'audit']),
    /** Glob(s) over the command word (`/ip/hotspot/user/add`). */
    path: z.union([glob, z.array(glob).min(1)]).default('/**'),
    /** The command's last segment: `print`, `add`, `listen`. */
    verb: names.optional(),
    user: names.optional(),
    role: names.optional(),
    router: names.optional(),
    /** Conditions on the command's attributes; all must hold. */
    attributes: z.array(condition).default([]),
  })
  .strict();

/** One rule as configured. */
export type PolicyRuleConfig = z.output<typeof rule>;
/** One attribute condition of a rule. */
export type PolicyConditionConfig = z.output<typeof condition>;

const billingDenies: [name: string, path: string | string[], verb?: string][] = [
  ['billing-deny-reboot', '/system/reboot'],
  ['billing-deny-shutdown', '/system/shutdown'],
  ['billing-deny-reset-configuration', '/system/reset-configuration'],
  ['billing-deny-user', '/user/**'],
  ['billing-deny-password', '/password'],
  ['billing-deny-file-remove', '/file/remove'],
  ['billing-deny-fetch', '/tool/fetch'],
  ['billing-deny-package', '/system/package/**'],
  ['billing-deny-ip-service', '/ip/service/**'],
  ['billing-deny-certificate', '/certificate/**'],
  ['billing-deny-export', '/**', 'export'],
  ['billing-deny-import', '/**', 'import'],
  ['billing-deny-backup', '/system/backup/**'],
  ['billing-deny-script-run', '/system/script/run'],
  // Dynamic code: what `:execute` and `:parse` run cannot be checked.
  ['billing-deny-dynamic-script', ['/execute', '/parse']],
];

const roleName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits or . _ -');
const roles = z.record(roleName, z.array(rule));

const shippedRoles: z.input<typeof roles> = {
  admin: [{ name: 'admin-allow-all', action: 'allow' }],
  billing: [
    ...billingDenies.map(([name, path, verb]) => ({
      name,
      action: 'deny' as const,
      path,
      ...(verb === undefined ? {} : { verb }),
    })),
    { name: 'billing-allow-rest', action: 'allow' },
  ],
  readonly: [
    {
      name: 'readonly-deny-print-to-file',
      action: 'deny',
      attributes: [{ name: 'file', present: true }],
    },
    { name: 'readonly-allow-reads', action: 'allow', verb: ['print', 'getall', 'listen'] },
    { name: 'readonly-deny-rest', action: 'deny' },
  ],
};

const mode = z.enum(['enforce', 'monitor']);

/** `10.0.0.0/8`, `fd00::/8`, `192.0.2.7`: an address or a CIDR. */
const source = z.string().refine((text) => {
  const [address = '', prefix, ...rest] = text.split('/');
  const bits = isIP(address) === 4 ? 32 : 128;
  return (
    isIP(address) > 0 &&
    rest.length === 0 &&
    /^\d{1,3}$/.test(prefix ?? '0') &&
    Number(prefix ?? 0) <= bits
  );
}, 'must be an IP address or a CIDR such as 10.0.0.0/8');

/** `a, b` (an environment variable) -> `['a', 'b']`. */
const splitList = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export const policySchema = z
  .object({
    /** `enforce` refuses what the policy denies; `monitor` decides, logs and counts, but forwards. */
    mode: mode.default('enforce'),
    /** The role of a user not listed in `users` (router-verified users). */
    defaultRole: roleName.default('billing'),
    /** User name -> role. */
    users: z.record(z.string().min(1), roleName).default({}),
    /**
     * Role name -> its rules, first match wins. Defaults to the shipped roles
     * (`admin`, `billing`, `readonly`); a role configured under a shipped
     * name replaces it, and the other shipped roles stay.
     */
    roles: roles.prefault(shippedRoles),
    /** Rules evaluated before any role's rules. */
    rules: z.array(rule).default([]),
    input: z
      .object({
        enabled: setting(z.boolean().default(true), { guideEnv: 'ENABLE_VALIDATION' }),
        maxStringLength: env(z.int().min(1).max(1_048_576).default(1000), 'MAX_STRING_LENGTH'),
        maxScriptLength: z.int().min(1).max(1_048_576).default(65536),
      })
      .strict()
      .prefault({}),
    /** Script escalation checks and script syntax in names. */
    attackDetection: env(z.boolean().default(true), 'ENABLE_ATTACK_DETECTION'),
    xss: z
      .object({
        enabled: env(z.boolean().default(true), 'ENABLE_XSS_PROTECTION'),
        mode: mode.default('monitor'),
      })
      .strict()
      .prefault({}),
    sqlInjection: z
      .object({
        enabled: env(z.boolean().default(true), 'ENABLE_SQL_INJECTION_PROTECTION'),
        mode: mode.default('monitor'),
      })
      .strict()
      .prefault({}),
    /** `enforce` refuses script syntax in a name (with `mode: enforce`); `monitor` flags it. */
    scriptSyntaxInData: mode.default('monitor'),
    lockout: z
      .object({
        maxAttempts: env(z.int().min(1).max(1_000_000).default(5), 'MAX_LOGIN_ATTEMPTS'),
        userMaxAttempts: z.int().min(1).max(1_000_000).default(20),
        windowMs: z.int().min(1).max(MAX_TIMER_MS).default(900_000),
        durationMs: env(z.int().min(0).max(MAX_TIMER_MS).default(900_000), 'LOCKOUT_DURATION'),
        maxTracked: z.int().min(1).max(10_000_000).default(10_000),
        /** Never locked by address alone (per source and user, and per user, still). */
        trustedSources: env(
          z
            .union([z.array(source), z.string().transform(splitList).pipe(z.array(source))], {
              error: 'must be a list of IP addresses or CIDRs',
            })
            .default(['127.0.0.0/8', '::1']),
          'LOCKOUT_TRUSTED_SOURCES',
        ),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((policy, ctx) => {
    const known = new Set([...Object.keys(shippedRoles), ...Object.keys(policy.roles)]);
    const check = (role: string, path: string[]): void => {
      if (!known.has(role)) ctx.addIssue({ code: 'custom', path, message: 'must name a role' });
    };
    check(policy.defaultRole, ['defaultRole']);
    for (const [user, role] of Object.entries(policy.users)) check(role, ['users', user]);
  });

/** The validated `policy` section. */
export type PolicyConfig = z.output<typeof policySchema>;
