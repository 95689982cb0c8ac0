import { ErrorCode, RosgateError } from '../errors.js';

/**
 * RouterOS API word length codec (docs/routeros-api.md §1).
 *
 * | range                 | bytes | form                     |
 * | 0x00 - 0x7F           | 1     | len                      |
 * | 0x80 - 0x3FFF         | 2     | len | 0x8000             |
 * | 0x4000 - 0x1FFFFF     | 3     | len | 0xC00000           |
 * | 0x200000 - 0xFFFFFFF  | 4     | len | 0xE0000000         |
 * | 0x10000000-0xFFFFFFFF | 5     | 0xF0 then len (4 bytes)  |
 *
 * Encoding always uses the shortest form; decoding accepts longer forms, as
 * every client in the wild does.
 */

/** The largest length the 5-byte form can carry. */
export const MAX_WORD_LENGTH = 0xffffffff;

/** Number of bytes the shortest length prefix of `length` takes. */
export function lengthSize(length: number): number {
  if (length < 0x80) return 1;
  if (length < 0x4000) return 2;
  if (length < 0x200000) return 3;
  if (length < 0x10000000) return 4;
  return 5;
}

/**
 * Write the shortest prefix for `length` into `target` at `offset`.
 * @returns the offset just past the prefix.
 */
export function writeLength(target: Buffer, offset: number, length: number): number {
  if (!Number.isInteger(length) || length < 0 || length > MAX_WORD_LENGTH) {
    throw new RangeError(`word length out of range: ${length}`);
  }
  if (length < 0x80) {
    target[offset] = length;
    return offset + 1;
  }
  if (length < 0x4000) {
    target[offset] = (length >>> 8) | 0x80;
    target[offset + 1] = length & 0xff;
    return offset + 2;
  }
  if (length < 0x200000) {
    target[offset] = (length >>> 16) | 0xc0;
    target[offset + 1] = (length >>> 8) & 0xff;
    target[offset + 2] = length & 0xff;
    return offset + 3;
  }
  if (length < 0x10000000) {
    target.writeUInt32BE((length | 0xe0000000) >>> 0, offset);
    return offset + 4;
  }
  target[offset] = 0xf0;
  target.writeUInt32BE(length, offset + 1);
  return offset + 5;
}

/** The shortest length prefix for `length` as a new Buffer. */
export function encodeLength(length: number): Buffer {
  const out = Buffer.allocUnsafe(lengthSize(length));
  writeLength(out, 0, length);
  return out;
}

/**
 * Size of the length prefix starting with byte `first`, or throws for the
 * reserved control bytes 0xF8-0xFF and for 0xF1-0xF7, whose extra length bits
 * no router uses (docs/routeros-api.md §1: accept only 0xF0 as a 5-byte prefix).
 */
export function prefixSize(first: number): number {
  if (first < 0x80) return 1;
  if (first < 0xc0) return 2;
  if (first < 0xe0) return 3;
  if (first < 0xf0) return 4;
  if (first === 0xf0) return 5;
  throw new RosgateError(ErrorCode.FramingControlByte, 'reserved control byte in length prefix', {
    details: { byte: first },
  });
}

/**
 * Read the prefix of `size` bytes at `offset` (the caller has checked that
 * they are all present). Accepts non-minimal forms.
 */
export function readLength(source: Buffer, offset: number, size: number): number {
  const first = source[offset] as number;
  switch (size) {
    case 1:
      return first;
    case 2:
      return ((first & 0x3f) << 8) | (source[offset + 1] as number);
    case 3:
      return (
        ((first & 0x1f) << 16) |
        ((source[offset + 1] as number) << 8) |
        (source[offset + 2] as number)
      );
    case 4:
      return source.readUInt32BE(offset) & 0x0fffffff;
    default:
      return source.readUInt32BE(offset + 1);
  }
}

/**
 * Decode one length prefix at `offset`.
 * @returns `[length, prefixBytes]`, or `undefined` when more bytes are needed.
 */
export function decodeLength(
  source: Buffer,
  offset = 0,
): [length: number, size: number] | undefined {
  if (offset >= source.length) return undefined;
  const size = prefixSize(source[offset] as number);
  if (offset + size > source.length) return undefined;
  return [readLength(source, offset, size), size];
}
