import t from 'tap';
import { straceTotalCalls } from '../../bench/strace.js';
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
      'writesP99AddedMs',
      'relayWritesP99AddedMs',
      'syscallsPerCommand',
      'coreSyscallsPerCommand',
      'relaySyscallsPerCommand',
    ],
    ['clients', 'rosgate'],
  ),
);

t.test("strace's total line gives its calls, with errors counted or blank", async (t) => {
  const rule = '------ ----------- ----------- --------- --------- ----------------';
  const summary = (total: string) =>
    [
      '% time     seconds  usecs/call     calls    errors syscall',
      rule,
      ' 60.00    0.200000          10     20000           writev',
      rule,
      total,
      '',
    ].join('\n');
  t.equal(
    straceTotalCalls(summary('100.00    0.384058          17     21635         8 total')),
    21635,
  );
  t.equal(
    straceTotalCalls(summary('100.00    0.384058          17     21635           total')),
    21635,
    'no errors: the usecs/call column is not taken for the calls',
  );
  t.equal(
    straceTotalCalls('strace: attach: ptrace(PTRACE_SEIZE, 1): Operation not permitted\n'),
    undefined,
  );
});
