/**
 * The audit record: one JSON line per event. Field order here is the order
 * of the canonical form the hash chain covers (chain-line.ts).
 */
import type { AUDIT_LEVELS } from '../config/audit.js';
import { boundedMemo } from '../bounded-memo.js';

/** How much of a command a record keeps (Kubernetes audit policy levels). */
export type AuditLevel = (typeof AUDIT_LEVELS)[number];

/** What happened. */
export const AuditKind = {
  Command: 'command',
  Login: 'login',
  LoginFailed: 'loginFailed',
  Logout: 'logout',
  PolicyDenied: 'policyDenied',
  Flag: 'flag',
  Lockout: 'lockout',
  /** Clients ended by hand through the admin port (`DELETE /monitoring/clients`). */
  Disconnect: 'disconnect',
  Breaker: 'breaker',
  /** A router became unreachable, or reachable again. */
  Router: 'router',
  Config: 'config',
  Start: 'start',
  Stop: 'stop',
  /** The live audit file was replaced or removed on disk (written by the writer itself). */
  AuditFile: 'auditFile',
} as const;
export type AuditKind = (typeof AuditKind)[keyof typeof AuditKind];

/** How it ended. */
export const AuditResult = {
  Success: 'success',
  /** The router answered with a `!trap`, or a login was refused. */
  Failure: 'failure',
  /** Policy refused the command. */
  Denied: 'denied',
  /** rosgate refused or gave up (rate limit, breaker, timeout, transport). */
  Error: 'error',
  Cancelled: 'cancelled',
} as const;
export type AuditResult = (typeof AuditResult)[keyof typeof AuditResult];

/** A JSON value a record's `details` may hold. */
export type AuditValue =
  string | number | boolean | null | readonly AuditValue[] | { readonly [key: string]: AuditValue };

/** An event as the stage hands it to the writer: everything but the chain fields. */
export interface AuditEvent {
  /** A random UUID. */
  readonly id: string;
  /** ISO 8601, UTC. */
  readonly timestamp: string;
  readonly kind: AuditKind;
  readonly level: Exclude<AuditLevel, 'none'>;
  /** `authentication`, `user_management`, `hotspot`, ... (see {@link categoryOf}). */
  readonly category: string;
  /** The command word (`/ip/hotspot/user/add`) or the event (`login`). */
  readonly action: string;
  readonly result: AuditResult;
  readonly userId?: string | undefined;
  readonly ipAddress?: string | undefined;
  readonly router?: string | undefined;
  /** The replica that wrote it, in a group of replicas (issue 18); absent for a lone rosgate. */
  readonly replica?: string | undefined;
  readonly connId?: number | undefined;
  readonly path?: string | undefined;
  readonly verb?: string | undefined;
  /** The client's tag, as a latin1 string. */
  readonly tag?: string | undefined;
  readonly rule?: string | undefined;
  readonly verdict?: string | undefined;
  readonly cache?: string | undefined;
  readonly rows?: number | undefined;
  /** Milliseconds from receipt to outcome. */
  readonly duration?: number | undefined;
  /** Redacted attributes, queries, reply rows, error codes; encrypted when configured. */
  readonly details?: { readonly [key: string]: AuditValue } | undefined;
}

/** A record as written: the event plus its place in the hash chain. */
export interface AuditRecord extends AuditEvent {
  /** 1, 2, 3, ... across files. */
  readonly seq: number;
  /** The previous record's hash; 64 zeros for the first record ever. */
  readonly prev: string;
  /** SHA-256 (or HMAC-SHA256) hex of the canonical form without `hash`. */
  readonly hash: string;
}

/** Menu path prefixes and their category; the longest matching prefix wins. */
const CATEGORIES: readonly (readonly [string, string])[] = [
  ['/user', 'user_management'],
  ['/ip/hotspot', 'hotspot'],
  ['/ppp', 'ppp'],
  ['/ip/firewall', 'security'],
  ['/ip/ipsec', 'security'],
  ['/ip/service', 'security'],
  ['/certificate', 'security'],
  ['/radius', 'security'],
  ['/system/resource', 'monitoring'],
  ['/system/health', 'monitoring'],
  ['/log', 'monitoring'],
  ['/tool', 'monitoring'],
  ['/interface/monitor-traffic', 'monitoring'],
  ['/system/backup', 'configuration'],
  ['/system/script', 'configuration'],
  ['/system/scheduler', 'configuration'],
  ['/export', 'configuration'],
  ['/import', 'configuration'],
  ['/file', 'configuration'],
  ['/system', 'system'],
  ['/interface', 'network'],
  ['/ip', 'network'],
  ['/ipv6', 'network'],
  ['/routing', 'network'],
  ['/queue', 'network'],
  ['/bridge', 'network'],
];
const BY_LENGTH = [...CATEGORIES].sort((a, b) => b[0].length - a[0].length);

/**
 * The category of a menu path: `/ip/hotspot/user` -> `hotspot`; `other` when
 * none fits. Every command asks and a router has few menus: remembered.
 */
export const categoryOf = boundedMemo(1024, (path: string): string => {
  for (const [prefix, category] of BY_LENGTH) {
    if (path === prefix || path.startsWith(`${prefix}/`)) return category;
  }
  return 'other';
});
