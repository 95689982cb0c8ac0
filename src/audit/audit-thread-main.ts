/** The audit writer thread's entry (see audit-thread.ts): `new Worker` runs this file. */
import { parentPort, workerData } from 'node:worker_threads';
import { hostAuditThread, type AuditThreadOptions } from './audit-thread.js';

const { auditThread } = workerData as { auditThread: AuditThreadOptions };
hostAuditThread(parentPort as NonNullable<typeof parentPort>, auditThread);
