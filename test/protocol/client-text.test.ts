import t from 'tap';
import {
  LOGIN_ENCODINGS,
  clientTextBytes,
  decodeWindows1252,
  encodeText,
  readClientText,
  textSpellings,
} from '../../src/protocol/index.js';

t.test('a name that is valid UTF-8 reads as UTF-8', async (t) => {
  t.equal(readClientText(Buffer.from('c3a9', 'hex')), '\u00e9');
  t.equal(readClientText(Buffer.from('jos\u00e9', 'utf8')), 'jos\u00e9');
  t.equal(
    readClientText(Buffer.from('\u043e\u043f\u0435\u0440', 'utf8')),
    '\u043e\u043f\u0435\u0440',
  );
  t.equal(readClientText(Buffer.from('billing')), 'billing');
  t.equal(readClientText(Buffer.alloc(0)), '');
});

t.test('any other name reads as windows-1252, latin1 but for 0x80-0x9f', async (t) => {
  t.equal(readClientText(Buffer.from('6a6f73e9', 'hex')), 'jos\u00e9', 'é as latin1 writes it');
  // What node-routeros's encoder (iconv-lite, win1252) writes for Šárka, Žofie, € and ™.
  t.equal(readClientText(Buffer.from('8ae1726b61', 'hex')), '\u0160\u00e1rka');
  t.equal(readClientText(Buffer.from('8e6f666965', 'hex')), '\u017dofie');
  t.equal(readClientText(Buffer.from('80209f99', 'hex')), '\u20ac \u0178\u2122');
  t.equal(readClientText(Buffer.from('819d', 'hex')), '\u0081\u009d', 'bytes it leaves undefined');
  t.equal(readClientText(Buffer.from('c328', 'hex')), '\u00c3(', 'a broken UTF-8 sequence');
  t.equal(readClientText(Buffer.from('ff', 'hex')), '\u00ff');
});

t.test("a password's bytes become the UTF-8 of the text they spell", async (t) => {
  const utf8 = Buffer.from('\u0160\u00e1rka \u20ac', 'utf8');
  t.equal(clientTextBytes(utf8), utf8, 'UTF-8 is kept as it came');
  t.same(clientTextBytes(Buffer.from('8ae1726b612080', 'hex')), utf8, 'windows-1252 is re-encoded');
});

t.test(
  'configured text is spelt in UTF-8, and in windows-1252 where that differs and fits',
  async (t) => {
    t.same(textSpellings('billing'), [Buffer.from('billing')], 'ASCII is one spelling');
    t.same(textSpellings('\u0160\u00e1rka \u20ac\u0081'), [
      Buffer.from('\u0160\u00e1rka \u20ac\u0081', 'utf8'),
      Buffer.from('8ae1726b61208081', 'hex'),
    ]);
    t.same(
      textSpellings('\u043f\u0430\u0440\u043e\u043b\u044c'),
      [Buffer.from('\u043f\u0430\u0440\u043e\u043b\u044c', 'utf8')],
      'Cyrillic, which windows-1252 cannot write, has its UTF-8 spelling alone',
    );
    t.same(
      textSpellings('\u0080'),
      [Buffer.from('\u0080', 'utf8')],
      'U+0080, whose byte windows-1252 gives to the euro sign, has no windows-1252 spelling',
    );
  },
);

t.test('every login encoding is a single-byte page that writes back what it reads', async (t) => {
  const every = Buffer.from(Array.from({ length: 256 }, (_, byte) => byte));
  for (const encoding of LOGIN_ENCODINGS.filter((e) => e !== 'utf-8')) {
    const chars =
      encoding === 'windows-1252'
        ? decodeWindows1252(every)
        : new TextDecoder(encoding).decode(every);
    t.equal(chars.length, 256, `${encoding}: one character per byte`);
    const defined = [...chars].filter((c) => c !== '\ufffd').join('');
    const bytes = encodeText(defined, encoding) ?? Buffer.alloc(0);
    t.equal([...bytes].map((byte) => chars[byte]).join(''), defined, `${encoding}: round trip`);
  }
});

t.test('in another clients’ code page, text that is not UTF-8 reads in that page', async (t) => {
  const kassir = Buffer.from('cae0f1f1e8f0', 'hex'); // Кассир in windows-1251
  t.equal(readClientText(kassir, 'windows-1251'), '\u041a\u0430\u0441\u0441\u0438\u0440');
  t.equal(readClientText(kassir), '\u00ca\u00e0\u00f1\u00f1\u00e8\u00f0', 'not in windows-1252');
  t.equal(
    readClientText(Buffer.from('\u041a\u0430\u0441\u0441\u0438\u0440'), 'windows-1251'),
    '\u041a\u0430\u0441\u0441\u0438\u0440',
    'UTF-8 still reads as UTF-8',
  );
  t.equal(readClientText(Buffer.from('eb', 'hex'), 'koi8-r'), '\u041a', 'koi8-r');
  t.same(
    clientTextBytes(kassir, 'windows-1251'),
    Buffer.from('\u041a\u0430\u0441\u0441\u0438\u0440', 'utf8'),
    'a password is re-encoded from that page',
  );
  t.same(
    textSpellings('\u043f\u0430\u0440\u043e\u043b\u044c', 'windows-1251'),
    [
      Buffer.from('\u043f\u0430\u0440\u043e\u043b\u044c', 'utf8'),
      Buffer.from('efe0f0eeebfc', 'hex'),
    ],
    'configured Cyrillic is spelt in UTF-8 and in windows-1251',
  );
});
