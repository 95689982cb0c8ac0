/**
 * The protocol layer reports every framing problem as a RosgateError with a
 * fixed code; callers (proxy, simulator) switch on `code` and read `details`.
 */
import t from 'tap';
import { ErrorCode, isRosgateError, RosgateError } from '../../src/errors.js';
import { Decoder } from '../../src/protocol/decoder.js';
import { hex, thrown } from '../fixtures/bytes.js';

t.test('a framing error is a RosgateError with a fixed code, details and no cause', async (t) => {
  const err = thrown(() => new Decoder().decode(hex('f8')));
  t.ok(err instanceof RosgateError, 'RosgateError');
  t.ok(isRosgateError(err, ErrorCode.FramingControlByte), 'with the framing code');
  t.notOk(isRosgateError(err, ErrorCode.WordTooLong), 'and no other code');
  t.notOk(isRosgateError(new Error('x')), 'a plain Error is not a RosgateError');
  const e = err as RosgateError;
  t.equal(e.name, 'RosgateError', 'name');
  t.same(e.details, { byte: 0xf8 }, 'context in details');
  t.equal(e.cause, undefined, 'no cause');
});

t.test('a RosgateError keeps a cause and defaults details to empty', async (t) => {
  const cause = new Error('socket closed');
  const wrapped = new RosgateError(ErrorCode.UpstreamClosed, 'upstream closed', { cause });
  t.equal(wrapped.cause, cause, 'cause kept');
  t.same(wrapped.details, {}, 'details default to empty');
  t.same(new RosgateError(ErrorCode.BadSentence, 'bad').details, {}, 'options are optional');
});
