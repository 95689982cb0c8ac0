import t from 'tap';
import type { RosgateError } from '../../src/errors.js';
import { createPolicyStage } from '../../src/policy/index.js';
import type { WordInput } from '../../src/protocol/index.js';
import { startSimulator } from '../../src/simulator/index.js';
import { ATTACK_CORPUS } from '../fixtures/policy-corpus-attacks.js';
import { LEGIT_CORPUS } from '../fixtures/policy-corpus-legit.js';
import { CORPUS_USERS, commandContext, policyConfig } from '../fixtures/policy-harness.js';
import { SimHandler } from '../fixtures/policy-sim-handler.js';

t.test(
  'in front of the simulator, denied commands never reach it and legitimate ones all do',
  async (t) => {
    const sim = await startSimulator({ user: 'admin', password: 'secret', version: '7.17' });
    t.teardown(() => sim.close());
    const inner = await SimHandler.connect(sim.port, 'admin', 'secret');
    t.teardown(() => inner.close());
    const handler = createPolicyStage({ config: policyConfig({ users: CORPUS_USERS }) }).stage(
      inner,
    );
    const send = (user: string, words: readonly WordInput[]) =>
      new Promise<RosgateError | undefined>((resolve) => {
        handler.handle(commandContext(words, { user }), {
          reply: () => undefined,
          done: () => resolve(undefined),
          refuse: resolve,
        });
      });
    const received = (): number => Object.values(sim.counters.commands).reduce((a, b) => a + b, 0);

    const start = received();
    for (const entry of ATTACK_CORPUS) {
      const refusal = await send(entry.user, entry.words);
      t.equal(refusal === undefined, entry.expect === 'flag', `${entry.user}: ${entry.why}`);
    }
    const flagged = ATTACK_CORPUS.filter((entry) => entry.expect === 'flag').length;
    t.equal(received() - start, flagged, 'only the flagged attacks reached the simulator');

    // A listen never ends by itself: the corpus' listens are left out here.
    const legit = LEGIT_CORPUS.filter((entry) => !String(entry.words[0]).endsWith('/listen'));
    for (const entry of legit) t.equal(await send(entry.user, entry.words), undefined, entry.why);
    t.equal(received() - start, flagged + legit.length, 'every legitimate command reached it');
  },
);
