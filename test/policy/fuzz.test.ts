import fc from 'fast-check';
import t from 'tap';
import { policyHarness } from '../fixtures/policy-harness.js';

const SEED = Number(process.env['POLICY_FUZZ_SEED'] ?? 20240101);

const COMMANDS = [
  '/ip/hotspot/user/add',
  '/ip/hotspot/user/set',
  '/ppp/secret/add',
  '/system/scheduler/add',
  '/system/script/add',
  '/queue/simple/add',
  '/ip/firewall/address-list/add',
  '/system/reboot',
  '/',
  '/x',
];
const NAMES = [
  'name',
  'password',
  'comment',
  'on-event',
  'source',
  'address',
  'mac-address',
  'limit-uptime',
  'limit-bytes-total',
  '.id',
  'numbers',
  'profile',
  '',
];
/** Any byte, as a latin1 character, with the characters scripts and markers care about more often. */
const char = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map((code) => String.fromCharCode(code)),
  fc.constantFrom('/', ' ', '\n', '"', '\\', '[', ']', '{', '}', ';', '$', ':', '=', '<', "'", '*'),
);
const text = (minLength: number) =>
  fc.array(char, { minLength, maxLength: 80 }).map((chars) => chars.join(''));
const value = text(0);
const word = fc.oneof(
  fc.tuple(fc.constantFrom(...NAMES), value).map(([name, v]) => `=${name}=${v}`),
  text(1), // a word is never empty
  fc.constantFrom('=once', '=', '?name=x', '.tag=1'),
);

t.test(
  `random commands always end exactly once, with a decision noted (seed ${SEED})`,
  async (t) => {
    const users = ['panel', 'noc', 'report'];
    const harness = policyHarness({ scriptSyntaxInData: 'enforce', xss: { mode: 'enforce' } });
    fc.assert(
      fc.property(
        fc.constantFrom(...users),
        fc.constantFrom(...COMMANDS),
        fc.array(word, { maxLength: 8 }),
        (user, command, words) => {
          const outcome = harness.run(user, [command, ...words]);
          return (
            outcome.ends === 1 &&
            outcome.isForwarded === (outcome.error === undefined) &&
            typeof outcome.notes.rule === 'string' &&
            (outcome.notes.verdict === 'deny') === !outcome.isForwarded
          );
        },
      ),
      { seed: SEED, numRuns: 3000 },
    );
    t.pass(`3000 random commands (seed ${SEED})`);
  },
);
