import t from 'tap';
import {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  isPasswordHash,
  parsePasswordHash,
  verifyPassword,
} from '../../src/config/index.js';

/** Cheap parameters so the suite stays fast; the format is the same. */
const FAST = { cost: 1024, blockSize: 8, parallelization: 1 };

t.test('hashPassword writes scrypt$N$r$p$salt$hash with the default cost', async (t) => {
  const hash = await hashPassword('s3cret');
  const [scheme, n, r, p, salt, key] = hash.split('$');
  t.equal(scheme, 'scrypt');
  t.same(
    [Number(n), Number(r), Number(p)],
    [
      DEFAULT_SCRYPT_PARAMS.cost,
      DEFAULT_SCRYPT_PARAMS.blockSize,
      DEFAULT_SCRYPT_PARAMS.parallelization,
    ],
  );
  t.equal(Buffer.from(salt as string, 'base64').length, 16);
  t.equal(Buffer.from(key as string, 'base64').length, 32);
  t.ok(isPasswordHash(hash));
  t.notMatch(hash, 's3cret');
  t.equal(await verifyPassword({ passwordHash: hash }, 's3cret'), true);
});

t.test('two hashes of one password differ by their random salt and both verify', async (t) => {
  const a = await hashPassword('same', FAST);
  const b = await hashPassword('same', FAST);
  t.not(a, b);
  t.match(a, /^scrypt\$1024\$8\$1\$/);
  t.equal(await verifyPassword({ passwordHash: a }, 'same'), true);
  t.equal(await verifyPassword({ passwordHash: b }, Buffer.from('same')), true);
});

t.test('a wrong password does not verify against a hash', async (t) => {
  const hash = await hashPassword('right', FAST);
  t.equal(await verifyPassword({ passwordHash: hash }, 'wrong'), false);
  t.equal(await verifyPassword({ passwordHash: hash }, ''), false);
  t.equal(await verifyPassword({ passwordHash: hash }, 'right '), false);
});

t.test('a string password is hashed as UTF-8, so its bytes off the wire verify', async (t) => {
  const hash = await hashPassword('pässwörd', FAST);
  t.equal(await verifyPassword({ passwordHash: hash }, Buffer.from('pässwörd', 'utf8')), true);
  t.equal(await verifyPassword({ passwordHash: hash }, Buffer.from('pässwörd', 'latin1')), false);
  const fromBytes = await hashPassword(Buffer.from([0xff, 0x00, 0x80]), FAST);
  t.equal(await verifyPassword({ passwordHash: fromBytes }, Buffer.from([0xff, 0x00, 0x80])), true);
});

t.test('a plaintext secret verifies only the same bytes, whatever the lengths', async (t) => {
  const user = { secret: Buffer.from('s3cret') };
  t.equal(await verifyPassword(user, 's3cret'), true);
  t.equal(await verifyPassword(user, Buffer.from('s3cret')), true);
  t.equal(await verifyPassword(user, 's3cre'), false);
  t.equal(await verifyPassword(user, 's3cret!'), false);
  t.equal(await verifyPassword(user, 'S3cret'), false);
});

t.test('a user with neither a secret nor a hash never verifies', async (t) => {
  t.equal(await verifyPassword({}, ''), false);
  t.equal(await verifyPassword({}, 'anything'), false);
});

t.test('a malformed hash never verifies', async (t) => {
  t.equal(await verifyPassword({ passwordHash: 'scrypt$garbage' }, 'x'), false);
});

t.test('hashPassword refuses cost parameters scrypt cannot use', async (t) => {
  await t.rejects(hashPassword('x', { cost: 3, blockSize: 8, parallelization: 1 }));
});

t.test('parsePasswordHash accepts only well-formed, affordable hashes', async (t) => {
  const good = await hashPassword('x', FAST);
  const [, , , , salt, key] = good.split('$') as string[];
  const shortSalt = Buffer.alloc(7).toString('base64');
  const shortKey = Buffer.alloc(15).toString('base64');
  const bad: Record<string, string> = {
    'too few fields': `scrypt$1024$8$1$${salt}`,
    'another scheme': `bcrypt$1024$8$1$${salt}$${key}`,
    'a non-decimal cost': `scrypt$0x400$8$1$${salt}$${key}`,
    'a cost with a leading zero': `scrypt$01024$8$1$${salt}$${key}`,
    'a zero block size': `scrypt$1024$0$1$${salt}$${key}`,
    'a non-numeric parallelization': `scrypt$1024$8$p$${salt}$${key}`,
    'a cost that is not a power of two': `scrypt$1000$8$1$${salt}$${key}`,
    'a cost of one': `scrypt$1$8$1$${salt}$${key}`,
    'a cost needing over 256 MiB': `scrypt$1048576$8$1$${salt}$${key}`,
    'a block size times parallelization over 1024': `scrypt$2$8$129$${salt}$${key}`,
    'a salt that is not base64': `scrypt$1024$8$1$not*base64$${key}`,
    'a hash that is not base64': `scrypt$1024$8$1$${salt}$***`,
    'a salt under 8 bytes': `scrypt$1024$8$1$${shortSalt}$${key}`,
    'a hash under 16 bytes': `scrypt$1024$8$1$${salt}$${shortKey}`,
  };
  for (const [why, text] of Object.entries(bad)) {
    t.equal(parsePasswordHash(text), undefined, why);
    t.equal(isPasswordHash(text), false, why);
  }
  t.match(parsePasswordHash(good), { options: { N: 1024, r: 8, p: 1 } });
});
