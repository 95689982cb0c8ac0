import t from 'tap';
import { smokeTest } from '../fixtures/bench-smoke.js';

t.setTimeout(240_000);

t.test(
  'the policy bench starts both apps side by side and reports the overhead of the policy',
  (t) =>
    smokeTest(
      t,
      'policy',
      ['--clients', '2', '--seconds', '0.5', '--rounds', '1'],
      [
        'clients',
        'seconds',
        'rounds',
        'noPolicyCmdPerSec',
        'shippedPolicyCmdPerSec',
        'overheadRatio',
        'stageNsPerCommand',
      ],
      ['goalMet'],
    ),
);
