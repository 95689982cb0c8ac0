import t from 'tap';
import { smokeTest } from '../fixtures/bench-smoke.js';

t.setTimeout(240_000);

t.test(
  'the audit bench writes, verifies and searches a trail and reports the wired overhead',
  (t) =>
    smokeTest(
      t,
      'audit',
      ['--records=1000', '--clients=2', '--seconds=0.5', '--rounds=1'],
      [
        'overheadRatio',
        'inlineOverheadRatio',
        'records',
        'verifyRecordsPerSecond',
        'verifyRecordsPerCpuSecond',
        'searchRecordsPerSecond',
        'writeRecordsPerSecond',
        'bytesPerRecord',
        'clients',
        'seconds',
        'rounds',
        'auditOffCmdPerSec',
        'auditOnCmdPerSec',
        'auditInlineCmdPerSec',
        'wiredRecordsDropped',
        'offMainCpuMicros',
        'auditMainCpuMicros',
        'auditOtherCpuMicros',
        'inlineAuditMainCpuMicros',
      ],
      [],
    ),
);
