import t from 'tap';
import {
  challengeFromHex,
  challengeToHex,
  computeResponse,
  createChallenge,
  verifyResponse,
} from '../../src/protocol/login.js';
import { hex } from '../fixtures/bytes.js';

// Docs/routeros-api.md §3.2: the two vectors from the official example, both with an empty password.
const vectors: [challenge: string, password: string, response: string][] = [
  ['93b438ec9b80057c06dd9fe67d56aa9a', '', '00e134102a9d330dd7b1849fedfea3cb57'],
  ['856780b7411eefd3abadee2058c149a3', '', '005062f7a5ef124d34675bf3e81f56c556'],
];

t.test('the manual challenge vectors give the manual responses', async (t) => {
  for (const [challenge, password, response] of vectors) {
    t.equal(computeResponse(password, hex(challenge)), response, `string password, ${challenge}`);
    t.equal(
      computeResponse(Buffer.alloc(0), hex(challenge)),
      response,
      `Buffer password, ${challenge}`,
    );
  }
});

t.test('verifyResponse accepts the right response and refuses wrong ones', async (t) => {
  for (const [challenge, password, response] of vectors) {
    const chal = hex(challenge);
    t.ok(verifyResponse(password, chal, response), 'right response as a string');
    t.ok(
      verifyResponse(password, chal, Buffer.from(response, 'latin1')),
      'right response as bytes',
    );
    t.ok(verifyResponse(password, chal, response.toUpperCase()), 'hex digits in upper case');
    t.ok(
      verifyResponse(password, chal, Buffer.from(response.toUpperCase(), 'latin1')),
      'upper-case hex as bytes',
    );
    t.notOk(verifyResponse('x', chal, response), 'wrong password');
    t.notOk(verifyResponse(password, hex('00'.repeat(16)), response), 'wrong challenge');
    t.notOk(verifyResponse(password, chal, response.slice(2)), 'missing the 00 prefix');
    t.notOk(verifyResponse(password, chal, `${response}0`), 'one digit too many');
    t.notOk(verifyResponse(password, chal, ''), 'empty response');
  }
  // A string password is text, taken as UTF-8 as clients send it; bytes as they are.
  const chal = hex(vectors[0]![0]);
  const response = computeResponse('caf\u00e9', chal);
  t.ok(verifyResponse(hex('636166c3a9'), chal, response), 'a string and its UTF-8 bytes agree');
  t.notOk(verifyResponse(hex('636166e9'), chal, response), 'latin1 bytes are a different password');
  t.ok(
    verifyResponse(
      '\u043f\u0430\u0440\u043e\u043b\u044c',
      chal,
      computeResponse(Buffer.from('пароль', 'utf8'), chal),
    ),
    'пароль as a string is its UTF-8 bytes',
  );
});

t.test('challenges are 16 random bytes written and parsed as 32 hex digits', async (t) => {
  const a = createChallenge();
  const b = createChallenge();
  t.equal(a.length, 16, '16 bytes');
  t.not(a.toString('hex'), b.toString('hex'), 'fresh each time');
  t.match(challengeToHex(a), /^[0-9a-f]{32}$/, '32 lowercase hex digits');
  t.same(challengeFromHex(challengeToHex(a)), a, 'round trip');
  t.same(
    challengeFromHex('93B438EC9B80057C06DD9FE67D56AA9A'),
    hex(vectors[0]![0]),
    'upper case parses',
  );
  for (const bad of [
    '',
    '93b438ec9b80057c06dd9fe67d56aa9',
    '93b438ec9b80057c06dd9fe67d56aa9a0',
    'zz'.repeat(16),
    ' 93b438ec9b80057c06dd9fe67d56aa9a',
  ]) {
    t.equal(challengeFromHex(bad), undefined, `refused: ${JSON.stringify(bad)}`);
  }
});
