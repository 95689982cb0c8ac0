/**
 * The `audit:` section: the audit trail's files, buffering, levels,
 * redaction, hash chain key and encryption (src/audit).
 */
import { z } from 'zod';
import { MAX_TIMER_MS, env } from './settings.js';

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
function keySource(envName: string, enabledEnv: string) {
  return z
    .object({
      enabled: env(z.boolean().default(false), enabledEnv),
      /** The environment variable holding the key. */
      keyEnv: z.string().min(1).default(envName),
      /** A file holding the key; unset by default. Wins over `keyEnv`. */
      keyFile: z.string().min(1).optional(),
    })
    .strict();
}

export const auditSchema = z
  .object({
    enabled: env(z.boolean().default(true), 'ENABLE_AUDIT_LOGGING'),
    /** Write JSON lines files; when false, records go to the log instead. */
    toFile: env(z.boolean().default(true), 'AUDIT_LOG_TO_FILE'),
    /** Folder of `audit-YYYY-MM-DD.jsonl`, relative to the working directory. */
    dir: env(z.string().min(1).default('logs/audit'), 'AUDIT_LOG_DIR'),
    bufferSize: env(z.int().min(1).default(100), 'AUDIT_BUFFER_SIZE'),
    /** Becomes a setInterval delay, so it is bounded by the timer's range. */
    flushIntervalMs: env(z.int().min(1).max(MAX_TIMER_MS).default(5000), 'AUDIT_FLUSH_INTERVAL'),
    /**
     * Least time between two fsyncs of the trail: a flush writes its records
     * to the file at once (a crash of rosgate loses none) and syncs them to
     * the disk when the last sync is this long ago, else within this time.
     * 0 syncs every flush.
     */
    syncIntervalMs: env(z.int().min(0).max(MAX_TIMER_MS).default(1000), 'AUDIT_SYNC_INTERVAL'),
    /**
     * Hash and write the trail on a thread of its own: the proxy's thread
     * only copies each command's bytes; the record is made there. False
     * writes on the proxy's thread.
     */
    thread: env(z.boolean().default(true), 'AUDIT_THREAD'),
    /**
     * Records waiting for the writer (its thread and the disk) beyond this are
     * dropped and counted: about 6.5 MB, 0.7 s of records at 15,000 commands/s.
     */
    maxQueued: z.int().min(1).default(10_000),
    maxFileBytes: z
      .int()
      .min(1024)
      .default(100 * 1024 * 1024),
    /** Files older than this many days (by the date in their name) are deleted; 0 keeps all. */
    retentionDays: env(z.int().min(0).default(365), 'AUDIT_LOG_RETENTION_DAYS'),
    /**
     * The trail's files together stay within this many bytes: when a new file
     * starts, the oldest whole files are deleted until the others and a full
     * new file (`maxFileBytes`) fit; `audit verify` passes as after age
     * retention. 0 bounds nothing; else at least `maxFileBytes`.
     */
    maxTotalBytes: env(z.int().min(0).default(0), 'AUDIT_LOG_MAX_TOTAL_BYTES'),
    /** Reply rows a `full` record keeps; the rest are counted only. */
    maxReplyRows: z.int().min(0).default(100),
    /** Ordered rules; the first that matches a command decides its level. */
    levels: z.array(rule).default([]),
    /** Attribute names redacted on top of the built-in ones. */
    redact: z.array(z.string().min(1)).default([]),
    integrity: keySource('AUDIT_INTEGRITY_KEY', 'ENABLE_AUDIT_INTEGRITY').prefault({}),
    encryption: keySource('AUDIT_ENCRYPTION_KEY', 'ENABLE_AUDIT_ENCRYPTION').prefault({}),
  })
  .strict()
  .superRefine((audit, ctx) => {
    // A trail not written to files has nothing to bound.
    const isWritten = audit.enabled && audit.toFile;
    if (isWritten && audit.maxTotalBytes > 0 && audit.maxTotalBytes < audit.maxFileBytes)
      ctx.addIssue({
        code: 'custom',
        path: ['maxTotalBytes'],
        message: 'must be 0 or at least audit.maxFileBytes',
      });
  });

/** The validated `audit:` section. */
export type AuditConfig = z.output<typeof auditSchema>;
/** One `audit.levels` rule. */
export type AuditLevelRule = z.output<typeof rule>;
