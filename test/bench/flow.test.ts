import t from 'tap';
import { smokeTest } from '../fixtures/bench-smoke.js';

t.setTimeout(240_000);

t.test('the flow bench measures the router rate, fairness and the cost of the stage', (t) =>
  smokeTest(
    t,
    'flow',
    ['--clients', '2', '--seconds', '1', '--passes', '1'],
    [
      'clients',
      'seconds',
      'routerRatePerS',
      'routerRateRatio',
      'aloneP99Ms',
      'floodedP99Ms',
      'fairnessP99Ratio',
      'onCmdPerSec',
      'offCmdPerSec',
      'overheadRatio',
      'onCpuUsPerCommand',
      'offCpuUsPerCommand',
      'cpuOverheadRatio',
      'stageNsPerCommand',
      'offStageNsPerCommand',
    ],
    ['simulator'],
  ),
);
