import t from 'tap';
import { decodeClientName } from '../../src/proxy/client-name.js';

t.test('a name that is valid UTF-8 reads as UTF-8', async (t) => {
  t.equal(decodeClientName(Buffer.from('c3a9', 'hex')), '\u00e9');
  t.equal(decodeClientName(Buffer.from('jos\u00e9', 'utf8')), 'jos\u00e9');
  t.equal(
    decodeClientName(Buffer.from('\u043e\u043f\u0435\u0440', 'utf8')),
    '\u043e\u043f\u0435\u0440',
  );
  t.equal(decodeClientName(Buffer.from('billing')), 'billing');
  t.equal(decodeClientName(Buffer.alloc(0)), '');
});

t.test('any other name reads as windows-1252, latin1 but for 0x80-0x9f', async (t) => {
  t.equal(decodeClientName(Buffer.from('6a6f73e9', 'hex')), 'jos\u00e9', 'é as latin1 writes it');
  // What node-routeros's encoder (iconv-lite, win1252) writes for Šárka, Žofie, € and ™.
  t.equal(decodeClientName(Buffer.from('8ae1726b61', 'hex')), '\u0160\u00e1rka');
  t.equal(decodeClientName(Buffer.from('8e6f666965', 'hex')), '\u017dofie');
  t.equal(decodeClientName(Buffer.from('80209f99', 'hex')), '\u20ac \u0178\u2122');
  t.equal(
    decodeClientName(Buffer.from('819d', 'hex')),
    '\u0081\u009d',
    'bytes it leaves undefined',
  );
  t.equal(decodeClientName(Buffer.from('c328', 'hex')), '\u00c3(', 'a broken UTF-8 sequence');
  t.equal(decodeClientName(Buffer.from('ff', 'hex')), '\u00ff');
});
