export * from './audit-record.js';
export * from './audit-stage.js';
export * from './audit-writer.js';
export * from './audit-keys.js';
export * from './verify-files.js';
export * from './search-audit.js';
export * from './report-audit.js';
export { runAuditCli, AuditExit, type AuditCliIo } from './cli.js';
export type { AuditAppender } from './file-appender.js';
