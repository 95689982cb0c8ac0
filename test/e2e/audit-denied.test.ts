import t, { type Test } from 'tap';
import { searchAudit, type AuditRecord } from '../../src/audit/index.js';
import { ErrorCode } from '../../src/errors.js';
import { connectApi, startStack } from '../fixtures/stack.js';

// A policy denial is recorded once: as `policyDenied` when policy refuses
// it (enforce), and as the command it then is when policy only notes the
// verdict (monitor) and something later refuses it.

const BILLING_PW = 'Billing-Pw-2m8q4';

async function rebootRecords(t: Test, mode: string) {
  const dir = t.testdir();
  const stack = await startStack(t, {
    sim: { users: { billing: BILLING_PW } },
    config: {
      audit: { dir, flushIntervalMs: 10 },
      policy: { mode },
      cache: { enabled: false },
      // One token, no queue: the second command is refused by the rate limit.
      flow: {
        rateLimit: { bucketSize: 1, refillTokens: 1, refillIntervalMs: 3_600_000, maxQueue: 0 },
      },
    },
  });
  const billing = await connectApi(stack.port, { user: 'billing', password: BILLING_PW });
  await billing.write('/system/identity/print');
  const refusal = await billing.write('/system/reboot').then(
    () => undefined,
    (err: Error) => err.message,
  );
  await billing.close();
  await stack.app.stop(0); // every record on disk
  const records: AuditRecord[] = [];
  for await (const record of searchAudit(dir, { path: '/system/reboot' })) records.push(record);
  return { refusal, records };
}

t.test('enforced: one policyDenied record', async (t) => {
  const { refusal, records } = await rebootRecords(t, 'enforce');
  t.match(refusal, /billing-deny-reboot/);
  t.match(records, [{ kind: 'policyDenied', result: 'denied', rule: 'billing-deny-reboot' }]);
  t.equal(records.length, 1);
});

t.test('monitored, then refused by the rate limit: one command record', async (t) => {
  const { refusal, records } = await rebootRecords(t, 'monitor');
  t.match(refusal, /rate limited/);
  t.match(records, [
    {
      kind: 'command',
      result: 'error',
      verdict: 'deny',
      rule: 'billing-deny-reboot',
      details: { code: ErrorCode.RateLimited },
    },
  ]);
  t.equal(records.length, 1, 'not once more as a denial');
});
