import t from 'tap';
import { smokeTest } from '../fixtures/bench-smoke.js';

t.setTimeout(240_000);

t.test('the shared bench runs three replicas on one Redis and reports every figure', (t) =>
  smokeTest(
    t,
    'shared',
    ['--seconds', '0.5', '--writes', '2', '--rounds', '1'],
    [
      'replicas',
      'seconds',
      'routerRatePerS',
      'routerRateRatio',
      'redisRoundTripsPerCommand',
      'invalidationP99Ms',
      'overheadRatio',
      'sharedCmdPerSec',
      'unsharedCmdPerSec',
      'maxGroupSessions',
      'groupSessionCap',
      'strictOverheadRatio',
      'strictCmdPerSec',
      'strictHitP50Ms',
      'strictHitP99Ms',
      'sharedHitP50Ms',
      'sharedHitP99Ms',
    ],
  ),
);
