import t from 'tap';
import { smokeTest } from '../fixtures/bench-smoke.js';

t.setTimeout(240_000);

t.test('the proxy bench runs direct and through rosgate and reports throughput and latency', (t) =>
  smokeTest(
    t,
    'proxy',
    ['--clients', '2', '--seconds', '0.5', '--rate', '50'],
    [
      'clients',
      'seconds',
      'poolMax',
      'directCmdPerSec',
      'proxyCmdPerSec',
      'throughputRatio',
      'directP50Ms',
      'directP99Ms',
      'proxyP50Ms',
      'proxyP99Ms',
      'addedP50Ms',
      'addedP99Ms',
      'offeredCmdPerSec',
      'directAchievedCmdPerSecAt1000',
      'proxyAchievedCmdPerSecAt1000',
      'directP50MsAt1000',
      'directP99MsAt1000',
      'proxyP50MsAt1000',
      'proxyP99MsAt1000',
      'addedP50MsAt1000',
      'addedP99MsAt1000',
    ],
    ['simulator', 'throughputGoalMet', 'latencyGoalMet'],
  ),
);
