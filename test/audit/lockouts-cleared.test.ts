import { join } from 'node:path';
import t from 'tap';
import { createAuditStage } from '../../src/audit/index.js';
import { auditConfig, captureLogger, readRecords } from '../fixtures/audit-helpers.js';

t.test(
  'lockouts cleared by hand are one security record with the filter and each lockout',
  async (t) => {
    const cwd = t.testdir();
    const trail = createAuditStage({
      config: auditConfig({ dir: 'audit' }),
      logger: captureLogger().logger,
      cwd,
    });
    t.teardown(() => trail.writer.close());
    trail.events.lockoutsCleared({
      filter: { user: 'mallory' },
      cleared: [{ router: 'default', scope: 'source-user', source: '127.0.0.1', user: 'mallory' }],
      address: '192.0.2.10',
    });
    trail.events.lockoutsCleared({ filter: {}, cleared: [] });
    await trail.writer.flush();
    const records = readRecords(join(cwd, 'audit'));
    t.match(records, [
      {
        kind: 'lockout',
        action: 'unlock',
        category: 'security',
        result: 'success',
        ipAddress: '192.0.2.10',
        details: {
          filter: { user: 'mallory' },
          cleared: [
            { router: 'default', scope: 'source-user', source: '127.0.0.1', user: 'mallory' },
          ],
        },
      },
      { kind: 'lockout', action: 'unlock', details: { filter: {}, cleared: [] } },
    ]);
    t.equal(records[1]?.ipAddress, undefined);
  },
);
