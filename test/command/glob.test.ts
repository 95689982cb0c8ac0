import t from 'tap';
import fc from 'fast-check';
import { anySegmentCount, compileGlob, globToRegExp, isGlob } from '../../src/command/glob.js';

const matches = (pattern: string, text: string) => compileGlob(pattern)(text);

t.test('a literal matches itself only', async (t) => {
  t.notOk(isGlob('/system/reboot'));
  t.ok(matches('/system/reboot', '/system/reboot'));
  t.notOk(matches('/system/reboot', '/system/reboot/now'));
  t.notOk(matches('/system/reboot', '/system'));
});

t.test('* is any text inside one segment', async (t) => {
  t.ok(matches('/user/*', '/user/add'));
  t.notOk(matches('/user/*', '/user'));
  t.notOk(matches('/user/*', '/user/group/add'));
  t.ok(matches('/ip/hot*', '/ip/hotspot'));
  t.notOk(matches('/ip/hot*', '/ip/hotspot/user'));
  t.ok(matches('bytes-*', 'bytes-in'));
  t.notOk(matches('bytes-*', 'limit-bytes-in'));
  t.ok(matches('/ip/hot**', '/ip/hotspot'), '** inside a segment is a *');
  t.notOk(matches('/ip/hot**', '/ip/hotspot/user'));
});

t.test('** as a segment is any number of segments, none included', async (t) => {
  t.ok(matches('/ip/**', '/ip'));
  t.ok(matches('/ip/**', '/ip/address'));
  t.ok(matches('/ip/**', '/ip/hotspot/user'));
  t.notOk(matches('/ip/**', '/ipv6/address'));
  t.ok(matches('/ip/**/print', '/ip/print'));
  t.ok(matches('/ip/**/print', '/ip/hotspot/user/print'));
  t.notOk(matches('/ip/**/print', '/ip/hotspot/user/add'));
  t.ok(matches('/**', '/'), 'the top-level menu');
  t.ok(matches('/**', '/export'));
  t.ok(matches('**', 'anything/at/all'));
  t.ok(matches('**/print', 'print'));
  t.ok(matches('**/print', 'ip/address/print'));
  t.notOk(matches('**/print', 'reprint'));
});

t.test('repeated ** segments are one, so they cost what one does', async (t) => {
  const folded = '/ip' + '/**'.repeat(50) + '/print';
  t.equal(globToRegExp(folded).source, globToRegExp('/ip/**/print').source);
  t.ok(matches(folded, '/ip/hotspot/user/print'));
  t.notOk(matches(folded, '/ip/hotspot/user/profile/set'));
  t.equal(anySegmentCount('/**/**/a/**/b/**'), 3);
  t.equal(anySegmentCount('/ip/hot**'), 0, 'inside a segment it is a *');
});

t.test('everything else is literal', async (t) => {
  t.ok(matches('/a.b(c)*', '/a.b(c)d'));
  t.notOk(matches('/a.b*', '/axb'));
  t.equal(globToRegExp('/q.t').source, '^\\/q\\.t$');
});

t.test('compiled globs match exactly what their regular expression matches', async (t) => {
  // Few letters, so that wildcards, segments and near misses meet often.
  const patternChar = fc.constantFrom('a', 'b', '/', '*', '**');
  const textChar = fc.constantFrom('a', 'b', '/');
  const pattern = fc.array(patternChar, { maxLength: 12 }).map((parts) => parts.join(''));
  const text = fc.array(textChar, { maxLength: 14 }).map((parts) => parts.join(''));
  fc.assert(
    fc.property(pattern, fc.array(text, { minLength: 1, maxLength: 8 }), (glob, texts) => {
      const compiled = compileGlob(glob);
      const regex = globToRegExp(glob);
      for (const candidate of texts) {
        if (compiled(candidate) !== regex.test(candidate)) {
          throw new Error(`${glob} on ${candidate}: ${compiled(candidate)}`);
        }
      }
    }),
    { seed: 20261207, numRuns: 20_000 },
  );
  t.ok(matches('/ip/*a*b', '/ip/xaybzb'), 'pieces found in order');
  t.notOk(matches('/ip/*ab*ba', '/ip/aba'), 'pieces may not overlap');
  t.ok(matches('/a/**/b/**/c', '/a/x/b/y/b/c'), 'runs found in order');
  t.notOk(matches('/a/**/b/c/**/c', '/a/b/c'), 'runs may not overlap');
});

t.test(
  'wildcards against a 1 MiB word that almost matches take one pass, not minutes',
  async (t) => {
    const word = 'a'.repeat(1024 * 1024);
    const cases: [string, string][] = [
      ['/ip/*a*b', `/ip/${word}`],
      ['/ip/*a*a*a*b*', `/ip/${word}`],
      ['/ip/**/*a*b/**/x', `/ip/${`${'a'.repeat(64)}/`.repeat(16 * 1024)}y`],
      ['**/*a*/**/b', `${'a/'.repeat(256 * 1024)}a`],
    ];
    for (const [glob, text] of cases) t.notOk(matches(glob, text), glob);
    t.ok(matches('/ip/*a*b', `/ip/${word}b`), 'and a match is found as fast');
  },
);
