import t from 'tap';
import { smokeTest } from '../fixtures/bench-smoke.js';

t.setTimeout(240_000);

t.test('the pipeline bench runs its four setups and reports every figure', (t) =>
  smokeTest(
    t,
    'pipeline',
    // From source: a dist/ child's coverage would be mapped back onto src/ and blur the tests'.
    [
      ...['--clients', '2', '--seconds', '0.3', '--rounds', '1', '--warmup', '0.1'],
      ...['--syscalls', '0', '--from-source', '1'],
    ],
    [
      'seconds',
      'rounds',
      'throughputRatio',
      'relayThroughputRatio',
      'coreThroughputRatio',
      'directCmdPerSec',
      'cpuMicrosPerCommand',
      'coreCpuMicrosPerCommand',
      'relayCpuMicrosPerCommand',
      'p99AddedMs',
      'relayP99AddedMs',
      'syscallsPerCommand',
      'coreSyscallsPerCommand',
      'relaySyscallsPerCommand',
    ],
    ['clients', 'rosgate'],
  ),
);
