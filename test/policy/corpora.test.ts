import t from 'tap';
import { ATTACK_CORPUS } from '../fixtures/policy-corpus-attacks.js';
import { LEGIT_CORPUS } from '../fixtures/policy-corpus-legit.js';
import { policyHarness } from '../fixtures/policy-harness.js';

t.test('the legitimate corpus holds at least 200 sentences, each with a reason', async (t) => {
  t.ok(LEGIT_CORPUS.length >= 200, `${LEGIT_CORPUS.length} sentences`);
  for (const entry of LEGIT_CORPUS) t.ok(entry.why.length > 0);
});

t.test('the attack corpus holds at least 100 sentences, each with a reason', async (t) => {
  t.ok(ATTACK_CORPUS.length >= 100, `${ATTACK_CORPUS.length} sentences`);
  for (const entry of ATTACK_CORPUS) t.ok(entry.why.length > 0);
});

t.test('every legitimate sentence reaches the router in enforce mode, unflagged', async (t) => {
  const harness = policyHarness({ mode: 'enforce' });
  for (const entry of LEGIT_CORPUS) {
    const outcome = harness.run(entry.user, entry.words);
    t.same(
      {
        isForwarded: outcome.isForwarded,
        verdict: outcome.notes.verdict,
        error: outcome.error?.message,
      },
      { isForwarded: true, verdict: 'allow', error: undefined },
      `${entry.user}: ${entry.why}`,
    );
  }
  t.equal(harness.router.received.length, LEGIT_CORPUS.length);
});

t.test('every attack is denied before the router, or flagged, as its entry says', async (t) => {
  const harness = policyHarness({ mode: 'enforce' });
  for (const entry of ATTACK_CORPUS) {
    const outcome = harness.run(entry.user, entry.words);
    if (entry.expect === 'deny') {
      t.same(
        {
          isForwarded: outcome.isForwarded,
          rule: outcome.notes.rule,
          verdict: outcome.notes.verdict,
        },
        { isForwarded: false, rule: entry.rule, verdict: 'deny' },
        `${entry.user}: ${entry.why}`,
      );
      t.ok(outcome.error !== undefined && outcome.ends === 1, `refused once: ${entry.why}`);
    } else {
      t.same(
        { isForwarded: outcome.isForwarded, verdict: outcome.notes.verdict },
        { isForwarded: true, verdict: 'flag' },
        `${entry.user}: ${entry.why}`,
      );
      t.ok(outcome.notes.flags?.includes(entry.flag), `flagged ${entry.flag}: ${entry.why}`);
    }
  }
});

t.test('with detection enforced, every flagged attack is refused too', async (t) => {
  const harness = policyHarness({
    scriptSyntaxInData: 'enforce',
    xss: { mode: 'enforce' },
    sqlInjection: { mode: 'enforce' },
  });
  for (const entry of ATTACK_CORPUS) {
    t.notOk(harness.run(entry.user, entry.words).isForwarded, `${entry.user}: ${entry.why}`);
  }
  for (const entry of LEGIT_CORPUS) {
    t.ok(harness.run(entry.user, entry.words).isForwarded, `still passes: ${entry.why}`);
  }
});
