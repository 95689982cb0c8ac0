/**
 * The `audit:` section: the audit trail's files, buffering, levels,
 * redaction, hash chain key and encryption (src/audit).
 */
import { z } from 'zod';
import { zodSection } from './sections.js';

/** How much of a command a record keeps (Kubernetes audit policy levels). */
export const AUDIT_LEVELS = ['none', 'metadata', 'request', 'full'] as const;

const level = z.enum(AUDIT_LEVELS);

const rule = z
  .object({
    /** A menu path glob: `*` is one path segment, `**` any depth (`/ip/hotspot/**`). */
    path: z.string().min(1),
    /** Only this verb (`add`, `print`, ...); any verb when absent. */
    verb: z.string().min(1).optional(),
    level,
  })
  .strict();

/** Where a key comes from: an environment variable or a file. */
function keySource(envName: string) {
  return z
    .object({
      enabled: z.boolean().default(false),
      /** The environment variable holding the key. */
      keyEnv: z.string().min(1).default(envName),
      /** A file holding the key; unset by default. Wins over `keyEnv`. */
      keyFile: z.string().min(1).optional(),
    })
    .strict();
}

const schema = z
  .object({
    enabled: z.boolean().default(true),
    /** Write JSON lines files; when false, records go to the log instead. */
    toFile: z.boolean().default(true),
    /** Folder of `audit-YYYY-MM-DD.jsonl`, relative to the working directory. */
    dir: z.string().min(1).default('logs/audit'),
    bufferSize: z.int().min(1).default(100),
    flushIntervalMs: z.int().min(1).default(5000),
    /** Records waiting for the disk beyond this are dropped and counted. */
    maxQueued: z.int().min(1).default(1000),
    maxFileBytes: z
      .int()
      .min(1024)
      .default(100 * 1024 * 1024),
    /** Files older than this many days (by the date in their name) are deleted; 0 keeps all. */
    retentionDays: z.int().min(0).default(365),
    /** Reply rows a `full` record keeps; the rest are counted only. */
    maxReplyRows: z.int().min(0).default(100),
    /** Ordered rules; the first that matches a command decides its level. */
    levels: z.array(rule).default([]),
    /** Attribute names redacted on top of the built-in ones. */
    redact: z.array(z.string().min(1)).default([]),
    integrity: keySource('AUDIT_INTEGRITY_KEY').prefault({}),
    encryption: keySource('AUDIT_ENCRYPTION_KEY').prefault({}),
  })
  .strict();

/** The validated `audit:` section. */
export type AuditConfig = z.output<typeof schema>;
/** One `audit.levels` rule. */
export type AuditLevelRule = z.output<typeof rule>;

/** The `audit:` section with its environment variables (the guide's names). */
export const auditSection = zodSection('audit', schema, {
  ENABLE_AUDIT_LOGGING: { keys: ['enabled'], type: 'boolean' },
  AUDIT_LOG_TO_FILE: { keys: ['toFile'], type: 'boolean' },
  AUDIT_LOG_DIR: { keys: ['dir'], type: 'string' },
  AUDIT_BUFFER_SIZE: { keys: ['bufferSize'], type: 'number' },
  AUDIT_FLUSH_INTERVAL: { keys: ['flushIntervalMs'], type: 'number' },
  AUDIT_LOG_RETENTION_DAYS: { keys: ['retentionDays'], type: 'number' },
  ENABLE_AUDIT_INTEGRITY: { keys: ['integrity', 'enabled'], type: 'boolean' },
  ENABLE_AUDIT_ENCRYPTION: { keys: ['encryption', 'enabled'], type: 'boolean' },
});
