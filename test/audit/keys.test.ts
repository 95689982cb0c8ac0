import t from 'tap';
import { resolveAuditKeys } from '../../src/audit/audit-keys.js';
import { auditConfig } from '../fixtures/audit-helpers.js';

const HEX = 'ab'.repeat(32);
const BASE64 = Buffer.alloc(32, 5).toString('base64');
const noFiles = (): Promise<string> => Promise.reject(new Error('no files here'));

t.test('without integrity or encryption there are no keys', async (t) => {
  t.same(await resolveAuditKeys(auditConfig(), { AUDIT_INTEGRITY_KEY: 'ignored' }, noFiles), {});
});

t.test('keys come from the named variables, trimmed; hex or base64 for encryption', async (t) => {
  const config = auditConfig({ integrity: { enabled: true }, encryption: { enabled: true } });
  const keys = await resolveAuditKeys(
    config,
    { AUDIT_INTEGRITY_KEY: ' a long enough integrity key \n', AUDIT_ENCRYPTION_KEY: HEX },
    noFiles,
  );
  t.same(keys, {
    integrityKey: Buffer.from('a long enough integrity key'),
    encryptionKey: Buffer.from(HEX, 'hex'),
  });
  const custom = auditConfig({ encryption: { enabled: true, keyEnv: 'MY_AUDIT_KEY' } });
  t.same(await resolveAuditKeys(custom, { MY_AUDIT_KEY: BASE64 }, noFiles), {
    encryptionKey: Buffer.alloc(32, 5),
  });
});

t.test('a key file wins over the variable', async (t) => {
  const config = auditConfig({
    integrity: { enabled: true, keyFile: 'integrity.key' },
    encryption: { enabled: true, keyFile: 'encryption.key' },
  });
  const files: Record<string, Buffer | string> = {
    'integrity.key': Buffer.from('from the file, long enough\n'),
    'encryption.key': `${HEX}\n`,
  };
  const keys = await resolveAuditKeys(
    config,
    { AUDIT_INTEGRITY_KEY: 'from the environment' },
    async (path) => files[path] as Buffer | string,
  );
  t.same(keys, {
    integrityKey: Buffer.from('from the file, long enough'),
    encryptionKey: Buffer.from(HEX, 'hex'),
  });
});

t.test('every key problem is reported at once, without any key value', async (t) => {
  const both = auditConfig({ integrity: { enabled: true }, encryption: { enabled: true } });
  await t.rejects(resolveAuditKeys(both, { AUDIT_INTEGRITY_KEY: '  ' }, noFiles), {
    code: 'ROSGATE_CONFIG',
    details: {
      problems: [
        'audit.integrity is enabled but AUDIT_INTEGRITY_KEY is not set (or set keyFile)',
        'audit.encryption is enabled but AUDIT_ENCRYPTION_KEY is not set (or set keyFile)',
      ],
    },
  });
  const weak = resolveAuditKeys(
    both,
    { AUDIT_INTEGRITY_KEY: 'short-secret', AUDIT_ENCRYPTION_KEY: 'not-a-key-secret' },
    noFiles,
  );
  await t.rejects(weak, {
    code: 'ROSGATE_CONFIG',
    details: {
      problems: [
        'audit.integrity key must be at least 16 bytes',
        'audit.encryption key must be 32 bytes as 64 hex digits or base64',
      ],
    },
  });
  const message = await weak.catch((err: Error) => err.message);
  t.notMatch(message, /secret/);
  const fromFile = auditConfig({ encryption: { enabled: true, keyFile: 'gone.key' } });
  await t.rejects(resolveAuditKeys(fromFile, {}, noFiles), {
    code: 'ROSGATE_CONFIG',
    details: { problems: ['audit.encryption.keyFile could not be read'] },
  });
});
