import type { Logger } from 'pino';
import type { AuditEvent } from './audit-record.js';
import {
  ZERO_AUDIT_STATS,
  type AuditHead,
  type AuditStats,
  type AuditWriter,
} from './audit-writer.js';

/**
 * Sends records to the log instead of files (`audit.toFile: false`): one
 * `info` line per record under the key `audit`, already redacted. No hash
 * chain: the log pipeline owns integrity then.
 */
export class LogAuditWriter implements AuditWriter {
  readonly #logger: Logger;
  #written = 0;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  write(event: AuditEvent): void {
    this.#logger.info({ audit: event }, 'audit');
    this.#written++;
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  head(): AuditHead | undefined {
    return undefined;
  }

  stats(): AuditStats {
    return { ...ZERO_AUDIT_STATS, written: this.#written };
  }
}
