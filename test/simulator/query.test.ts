import t from 'tap';
import {
  compareValues,
  compileQuery,
  parseStackOps,
  valuesEqual,
} from '../../src/simulator/query.js';

type Item = Record<string, string>;

function matches(item: Item, ...words: string[]): boolean {
  const query = compileQuery(words.map((w) => Buffer.from(w, 'latin1')));
  return query((name) => (name in item ? Buffer.from(item[name] as string, 'latin1') : undefined));
}

function names(items: Item[], ...words: string[]): string[] {
  return items.filter((item) => matches(item, ...words)).map((item) => item.name as string);
}

const interfaces: Item[] = [
  { name: 'ether1', type: 'ether', mtu: '1500', comment: 'uplink' },
  { name: 'ether2', type: 'ether', mtu: '9000' },
  { name: 'vlan10', type: 'vlan', mtu: '1500', comment: '' },
  { name: 'bridge1', type: 'bridge', mtu: '1500', disabled: 'true' },
  { name: 'wlan1', type: 'wlan', mtu: '1500', disabled: 'false' },
];

t.test('no query words match every item', async (t) => {
  t.same(names(interfaces), ['ether1', 'ether2', 'vlan10', 'bridge1', 'wlan1']);
});

t.test('?type=ether ?type=vlan ?#| selects ether or vlan', async (t) => {
  t.same(names(interfaces, '?type=ether', '?type=vlan', '?#|'), ['ether1', 'ether2', 'vlan10']);
});

t.test('?#|! after two tests selects neither', async (t) => {
  t.same(names(interfaces, '?type=ether', '?type=vlan', '?#|!'), ['bridge1', 'wlan1']);
});

t.test('?#|| joins three tests with OR', async (t) => {
  t.same(names(interfaces, '?type=ether', '?type=vlan', '?type=wlan', '?#||'), [
    'ether1',
    'ether2',
    'vlan10',
    'wlan1',
  ]);
});

t.test('?#| repeated joins three tests as librouteros sends them', async (t) => {
  t.same(names(interfaces, '?type=ether', '?type=vlan', '?#|', '?type=wlan', '?#|'), [
    'ether1',
    'ether2',
    'vlan10',
    'wlan1',
  ]);
});

t.test('plain consecutive query words are an implicit AND', async (t) => {
  t.same(names(interfaces, '?type=ether', '?mtu=1500'), ['ether1']);
});

t.test('?#&! negates an AND as in the manual example', async (t) => {
  t.same(names(interfaces, '?>mtu=1000', '?type=ether', '?#&!'), ['vlan10', 'bridge1', 'wlan1']);
});

t.test('?>comment= selects items with a non-empty comment', async (t) => {
  t.same(names(interfaces, '?>comment='), ['ether1']);
});

t.test('?name tests presence and ?-name tests absence', async (t) => {
  t.same(names(interfaces, '?comment'), ['ether1', 'vlan10']);
  t.same(names(interfaces, '?-comment'), ['ether2', 'bridge1', 'wlan1']);
});

t.test('?=name=value is equality like ?name=value', async (t) => {
  t.same(names(interfaces, '?=type=vlan'), ['vlan10']);
});

t.test('?<name=x and ?>name=x compare integers as numbers', async (t) => {
  t.same(names(interfaces, '?>mtu=2000'), ['ether2']);
  t.same(names(interfaces, '?<mtu=2000'), ['ether1', 'vlan10', 'bridge1', 'wlan1']);
});

t.test('comparisons on a missing property are false', async (t) => {
  t.same(names(interfaces, '?<comment=z'), ['ether1', 'vlan10']);
  t.same(names(interfaces, '?comment=uplink'), ['ether1']);
});

t.test('?<name without a value compares with the empty value', async (t) => {
  t.same(names(interfaces, '?>comment'), ['ether1']);
});

t.test('yes and true, no and false are equal in equality tests', async (t) => {
  t.same(names(interfaces, '?disabled=yes'), ['bridge1']);
  t.same(names(interfaces, '?disabled=no'), ['wlan1']);
  t.same(names(interfaces, '?disabled=false'), ['wlan1']);
});

t.test('?#0 at the end of the word replaces the stack with its top', async (t) => {
  // Stack: [ether?, vlan?]; ?#1 keeps only the first test.
  t.same(names(interfaces, '?type=ether', '?type=vlan', '?#1'), ['ether1', 'ether2']);
  t.same(names(interfaces, '?type=ether', '?type=vlan', '?#0'), ['vlan10']);
});

t.test('an index followed by . copies that element (?#1.)', async (t) => {
  // [ether, mtu1500] -> copy ether -> [ether, mtu1500, ether] -> | -> [ether, mtu1500|ether].
  t.same(names(interfaces, '?type=ether', '?mtu=1500', '?#1.|'), ['ether1', 'ether2']);
  // [ether, vlan, ether] -> & -> [ether, vlan&ether] -> | -> [ether].
  t.same(names(interfaces, '?type=ether', '?type=vlan', '?#1.&|'), ['ether1', 'ether2']);
});

t.test('an index followed by an operator copies that element first', async (t) => {
  // [ether, vlan] -> copy index 1 (ether) -> OR with vlan -> [ether, ether|vlan].
  t.same(names(interfaces, '?type=ether', '?type=vlan', '?#1|'), ['ether1', 'ether2']);
  // [vlan, ether, ether] -> | -> [vlan, ether]: nothing is both.
  t.same(names(interfaces, '?type=vlan', '?type=ether', '?#0|'), []);
});

t.test('. not after an index duplicates the top', async (t) => {
  t.same(names(interfaces, '?type=vlan', '?#.!|'), [
    'ether1',
    'ether2',
    'vlan10',
    'bridge1',
    'wlan1',
  ]);
});

t.test('indexes beyond the pushed values read the endless true', async (t) => {
  t.same(names(interfaces, '?type=vlan', '?#5&'), ['vlan10']);
  t.same(names(interfaces, '?#&'), ['ether1', 'ether2', 'vlan10', 'bridge1', 'wlan1']);
});

t.test('the stack operations parse into copy, replace and operators', async (t) => {
  t.same(parseStackOps('12.!x|&.3'), [
    { kind: 'copy', index: 12 },
    { kind: 'not' },
    { kind: 'or' },
    { kind: 'and' },
    { kind: 'dup' },
    { kind: 'replace', index: 3 },
  ]);
});

t.test('words that are not queries are skipped', async (t) => {
  t.same(names(interfaces, '=.proplist=name', '?type=vlan'), ['vlan10']);
});

t.test('values compare numerically only when both sides are integers', async (t) => {
  const b = (s: string): Buffer => Buffer.from(s, 'latin1');
  t.equal(compareValues(b('10'), b('9')), 1);
  t.equal(compareValues(b('9'), b('10')), -1);
  t.equal(compareValues(b('-3'), b('-3')), 0);
  t.equal(compareValues(b('10a'), b('9')), -1);
  t.ok(valuesEqual(b('010'), b('10')));
  t.notOk(valuesEqual(b('yes'), b('no')));
  t.notOk(valuesEqual(b('abc'), b('abd')));
  t.ok(valuesEqual(Buffer.from([0xe9]), Buffer.from([0xe9])));
});

t.test('equality is what comparing says, booleans folded, for any pair of values', async (t) => {
  const b = (s: string): Buffer => Buffer.from(s, 'latin1');
  const spellings = [
    'yes',
    'true',
    'no',
    'false',
    'YES',
    'on',
    '',
    '-',
    '-0',
    '0',
    '00',
    '7',
    '007',
  ];
  const more = [
    '-7',
    '-007',
    '10',
    '9',
    '1e3',
    ' 1',
    '1 ',
    '+1',
    'abc',
    'falsey',
    '\u00e9',
    '12345678901234567890',
  ];
  const values = [...spellings, ...more].map(b);
  // What equality meant before it was checked in place: the strings of both sides.
  const BOOLEANS = new Map([
    ['yes', true],
    ['true', true],
    ['no', false],
    ['false', false],
  ]);
  const expected = (x: Buffer, y: Buffer): boolean => {
    const left = BOOLEANS.get(x.toString('latin1'));
    return (
      x.equals(y) ||
      (left !== undefined && left === BOOLEANS.get(y.toString('latin1'))) ||
      compareValues(x, y) === 0
    );
  };
  let pairs = 0;
  for (const x of values) {
    for (const y of values) {
      if (valuesEqual(x, y) !== expected(x, y)) t.fail(`"${x}" = "${y}"`);
      pairs++;
    }
  }
  t.equal(pairs, values.length ** 2, 'every pair agreed');
  t.ok(valuesEqual(b('-007'), b('-7')));
  t.ok(valuesEqual(b('true'), b('yes')));
  t.notOk(valuesEqual(b('-'), b('-0')));
});
