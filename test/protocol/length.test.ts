import t from 'tap';
import { isRosgateError } from '../../src/errors.js';
import {
  decodeLength,
  encodeLength,
  lengthSize,
  MAX_WORD_LENGTH,
  prefixSize,
  readLength,
  writeLength,
} from '../../src/protocol/length.js';
import { hex, thrown } from '../fixtures/bytes.js';

// Docs/routeros-api.md §1 worked length bytes and checklist item 1.
const vectors: [length: number, bytes: string][] = [
  [0x00, '00'],
  [0x01, '01'],
  [0x7f, '7f'],
  [0x80, '80 80'],
  [0xff, '80 ff'],
  [0x100, '81 00'],
  [0x3fff, 'bf ff'],
  [0x4000, 'c0 40 00'],
  [0x1fffff, 'df ff ff'],
  [0x200000, 'e0 20 00 00'],
  [0xfffffff, 'ef ff ff ff'],
  [0x10000000, 'f0 10 00 00 00'],
  [0xffffffff, 'f0 ff ff ff ff'],
];

t.test('each length in the manual table encodes to its exact bytes and decodes back', async (t) => {
  for (const [length, bytes] of vectors) {
    const wire = hex(bytes);
    t.same(encodeLength(length), wire, `encode 0x${length.toString(16)}`);
    t.equal(lengthSize(length), wire.length, `size of 0x${length.toString(16)}`);
    t.same(decodeLength(wire), [length, wire.length], `decode ${bytes}`);
    t.equal(prefixSize(wire[0] as number), wire.length, `prefix size from first byte of ${bytes}`);
    const at = Buffer.alloc(wire.length + 3, 0xaa);
    t.equal(
      writeLength(at, 2, length),
      2 + wire.length,
      'writeLength returns the offset past the prefix',
    );
    t.same(at.subarray(2, 2 + wire.length), wire, 'writeLength writes at the offset');
    t.equal(at[0], 0xaa, 'bytes before the offset are untouched');
    t.equal(at[2 + wire.length], 0xaa, 'bytes after the prefix are untouched');
    t.equal(readLength(at, 2, wire.length), length, 'readLength reads at the offset');
  }
});

t.test('a length prefix cut short asks for more bytes instead of guessing', async (t) => {
  for (const [, bytes] of vectors) {
    const wire = hex(bytes);
    for (let n = 0; n < wire.length; n++) {
      t.equal(decodeLength(wire.subarray(0, n)), undefined, `${bytes} cut to ${n} bytes`);
    }
  }
  t.equal(decodeLength(hex('05 81 00'), 3), undefined, 'offset at the end of the buffer');
  t.same(decodeLength(hex('05 81 00'), 1), [0x100, 2], 'decodes at a non-zero offset');
});

t.test('non-minimal length encodings decode to the same length', async (t) => {
  const lenient: [bytes: string, length: number][] = [
    ['80 05', 5],
    ['80 00', 0],
    ['c0 00 05', 5],
    ['c0 00 80', 0x80],
    ['e0 00 00 05', 5],
    ['e0 00 40 00', 0x4000],
    ['f0 00 00 00 05', 5],
    ['f0 00 20 00 00', 0x200000],
  ];
  for (const [bytes, length] of lenient) {
    t.same(decodeLength(hex(bytes)), [length, hex(bytes).length], bytes);
    t.same(
      encodeLength(length),
      encodeLength(length).subarray(0, lengthSize(length)),
      'encoding is minimal',
    );
    t.ok(encodeLength(length).length < hex(bytes).length, `re-encoding ${bytes} is shorter`);
  }
});

t.test('encoding picks the shortest form at every boundary', async (t) => {
  const edges: [length: number, size: number][] = [
    [0x7f, 1],
    [0x80, 2],
    [0x3fff, 2],
    [0x4000, 3],
    [0x1fffff, 3],
    [0x200000, 4],
    [0xfffffff, 4],
    [0x10000000, 5],
  ];
  for (const [length, size] of edges)
    t.equal(encodeLength(length).length, size, `0x${length.toString(16)}`);
});

t.test('first bytes F1 to FF are refused as reserved control bytes', async (t) => {
  for (let byte = 0xf1; byte <= 0xff; byte++) {
    const err = thrown(() => prefixSize(byte));
    t.ok(
      isRosgateError(err, 'ROSGATE_FRAMING_CONTROL_BYTE'),
      `0x${byte.toString(16)} is a framing error`,
    );
    t.ok(isRosgateError(err), 'and a RosgateError');
    t.same((err as { details: unknown }).details, { byte }, 'the byte travels in details');
    t.throws(() => decodeLength(Buffer.of(byte, 0, 0, 0, 0, 0)), {
      code: 'ROSGATE_FRAMING_CONTROL_BYTE',
    });
  }
});

t.test('lengths that cannot be encoded are refused with a RangeError', async (t) => {
  for (const bad of [-1, 1.5, MAX_WORD_LENGTH + 1, Number.NaN]) {
    t.throws(() => encodeLength(bad), RangeError, String(bad));
  }
});
