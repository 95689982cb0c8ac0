import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { AuditValue } from './audit-record.js';

/** `details` as written when encryption is on: AES-256-GCM, fields base64. */
export interface EncryptedDetails {
  readonly enc: 'aes-256-gcm';
  readonly iv: string;
  readonly tag: string;
  readonly data: string;
}

type Details = { readonly [key: string]: AuditValue };

/** Encrypts a record's details (as JSON) under a 32-byte key with a fresh 96-bit IV. */
export function encryptDetails(details: Details, key: Buffer): EncryptedDetails {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(JSON.stringify(details), 'utf8'), cipher.final()]);
  return {
    enc: 'aes-256-gcm',
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  };
}

/** True when `details` has the encrypted shape. */
export function isEncrypted(details: unknown): details is EncryptedDetails {
  return (
    typeof details === 'object' &&
    details !== null &&
    (details as { enc?: unknown }).enc === 'aes-256-gcm'
  );
}

/** The plain details, or undefined when `key` is wrong or the data was altered. */
export function decryptDetails(details: EncryptedDetails, key: Buffer): Details | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(details.iv, 'base64'));
    decipher.setAuthTag(Buffer.from(details.tag, 'base64'));
    const text = Buffer.concat([
      decipher.update(Buffer.from(details.data, 'base64')),
      decipher.final(),
    ]).toString('utf8');
    return JSON.parse(text) as Details;
  } catch {
    return undefined;
  }
}
