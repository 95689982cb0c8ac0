import t from 'tap';
import { checkInput } from '../../src/policy/input-rules.js';

const LIMITS = { maxStringLength: 1000, maxScriptLength: 65536 };

/** The failing rule for one attribute in `menu`, or undefined when the value passes. */
function check(menu: string, name: string, value: string | Buffer): string | undefined {
  const values = new Map([[name, typeof value === 'string' ? value : value.toString('latin1')]]);
  return checkInput(menu, values, LIMITS)?.rule;
}

const table: [menu: string, attribute: string, value: string, rule: string | undefined][] = [
  // user and secret names
  ['/ip/hotspot/user', 'name', 'alice@example.com', undefined],
  ['/ip/hotspot/user', 'name', 'A-b_c.1', undefined],
  ['/ip/hotspot/user', 'name', 'AA:BB:CC:DD:EE:FF', undefined],
  ['/ip/hotspot/user', 'name', 'a'.repeat(64), undefined],
  ['/ip/hotspot/user', 'name', 'a'.repeat(65), 'user-name'],
  ['/ip/hotspot/user', 'name', '', 'user-name'],
  ['/ip/hotspot/user', 'name', '+254712345678', undefined],
  ['/ppp/secret', 'name', 'jane+fibre@example.com', undefined],
  ['/ppp/secret', 'name', 'bob smith', 'user-name'],
  ['/ppp/secret', 'name', "o'brien", 'user-name'],
  ['/ip/hotspot/user', 'name', 'a\tb', 'user-name'],
  ['/user', 'name', 'x;y', 'user-name'],
  ['/ip/hotspot/user/profile', 'name', '1 Hour Plan', undefined],
  // addresses
  ['/ip/hotspot/user', 'address', '10.5.50.20', undefined],
  ['/ip/hotspot/user', 'address', '', undefined],
  ['/ip/address', 'address', '192.168.88.1/24', undefined],
  ['/ip/address', 'address', '192.168.88.1/33', 'ip-address'],
  ['/ip/address', 'address', '192.168.88.1/', 'ip-address'],
  ['/ipv6/address', 'address', '2001:db8::1/64', undefined],
  ['/ipv6/address', 'address', '2001:db8::1/129', 'ip-address'],
  ['/ip/firewall/filter', 'src-address', '!10.0.0.0/8', undefined],
  ['/ip/firewall/filter', 'dst-address', '10.0.0.2-10.0.0.9', undefined],
  ['/ip/firewall/filter', 'dst-address', '2001:db8::1-2001:db8::9', undefined],
  ['/ip/firewall/filter', 'dst-address', '10.0.0.2-2001:db8::9', 'ip-address'],
  ['/ip/firewall/nat', 'to-addresses', '10.0.0.1,10.0.0.2', undefined],
  ['/ip/firewall/filter', 'src-address', 'example.com', 'ip-address'],
  ['/ip/firewall/address-list', 'address', 'pay.example.com', undefined],
  ['/ip/firewall/address-list', 'address', '10.0.0.0/8', undefined],
  ['/ip/firewall/address-list', 'address', 'x y', 'ip-address-or-name'],
  ['/queue/simple', 'target', '10.0.0.5/32,<pppoe-bob>', undefined],
  ['/ppp/secret', 'remote-address', '10.10.0.5', undefined],
  ['/ppp/secret', 'local-address', 'pool1', 'ip-address'],
  ['/ppp/profile', 'local-address', 'pool1', undefined],
  ['/tool/ping', 'address', 'example.com', undefined],
  // MAC
  ['/ip/hotspot/user', 'mac-address', 'aa:bb:cc:dd:ee:ff', undefined],
  ['/interface/ethernet', 'mac-address', 'AA-BB-CC-DD-EE-FF', undefined],
  ['/ip/hotspot/user', 'mac-address', 'AA:BB-CC:DD:EE:FF', 'mac-address'],
  ['/ip/hotspot/user', 'mac-address', 'AABBCCDDEEFF', 'mac-address'],
  // durations
  ['/ip/hotspot/user', 'limit-uptime', '1d2h3m4s', undefined],
  ['/ip/hotspot/user', 'limit-uptime', '1w', undefined],
  ['/ip/hotspot/user', 'limit-uptime', '00:30:00', undefined],
  ['/ip/hotspot/user', 'limit-uptime', '1d 00:30:00', undefined],
  ['/ip/hotspot/user/profile', 'session-timeout', '500ms', undefined],
  ['/ip/hotspot/user/profile', 'idle-timeout', 'none', undefined],
  ['/interface/pppoe-server/server', 'keepalive-timeout', 'disabled', undefined],
  ['/system/scheduler', 'interval', '0', undefined],
  ['/system/scheduler', 'interval', '1x', 'duration'],
  ['/ip/firewall/address-list', 'timeout', '1d;', 'duration'],
  // byte counts
  ['/ip/hotspot/user', 'limit-bytes-total', '500M', undefined],
  ['/ip/hotspot/user', 'limit-bytes-in', '1048576', undefined],
  ['/ip/hotspot/user', 'limit-bytes-out', '2g', undefined],
  ['/ip/hotspot/user', 'limit-bytes-out', '2T', 'byte-count'],
  ['/ip/hotspot/user', 'limit-bytes-out', '-1', 'byte-count'],
  // ids
  ['/ip/hotspot/user', '.id', '*1A', undefined],
  ['/ip/hotspot/user', '.id', '*1A,*2b', undefined],
  ['/interface', '.id', 'ether1', undefined],
  ['/ip/hotspot/user', 'numbers', '0,1,VC1000', undefined],
  ['/system/script', 'number', 'nightly backup', undefined],
  ['/ip/hotspot/user', '.id', '*1A]', 'item-id'],
  ['/ip/hotspot/user', 'numbers', '$x', 'item-id'],
  ['/ip/hotspot/user', 'numbers', '*1,,*2', 'item-id'],
  ['/ip/hotspot/user', 'numbers', 'a\nb', 'item-id'],
  // everything else is free text
  ['/ip/hotspot/user', 'comment', '{"a":"b"}; [x] $y \'"', undefined],
  ['/ip/hotspot/user', 'password', '$;\'"[]{}', undefined],
];

for (const [menu, attribute, value, rule] of table) {
  t.test(
    `${menu} ${attribute}=${value.slice(0, 40)} ${rule === undefined ? 'passes' : `breaks ${rule}`}`,
    async (t) => {
      t.equal(check(menu, attribute, value), rule);
    },
  );
}

t.test('a failure names the attribute and the rule', async (t) => {
  const values = new Map([['mac-address', 'x']]);
  t.same(checkInput('/ip/hotspot/user', values, LIMITS), {
    rule: 'mac-address',
    attribute: 'mac-address',
    message: 'invalid value for mac-address: must be a MAC address',
  });
});

t.test('values are bounded in bytes; scripts and comments have their own bound', async (t) => {
  const limits = { maxStringLength: 10, maxScriptLength: 20 };
  const one = (name: string, bytes: number) =>
    checkInput('/system/scheduler', new Map([[name, 'a'.repeat(bytes)]]), limits)?.message;
  t.equal(one('name', 10), undefined);
  t.equal(one('name', 11), 'invalid value for name: must be at most 10 bytes');
  t.equal(one('on-event', 20), undefined);
  t.equal(one('on-event', 21), 'invalid value for on-event: must be at most 20 bytes');
  t.equal(one('comment', 20), undefined);
  t.equal(one('source', 21), 'invalid value for source: must be at most 20 bytes');
});

t.test('bytes beyond ASCII pass in free text and in user names, counted as bytes', async (t) => {
  t.equal(check('/ip/hotspot/user', 'comment', Buffer.from([0xe9, 0x80, 0xff])), undefined);
  t.equal(
    check('/ip/hotspot/user', 'name', Buffer.from([0x6a, 0x6f, 0x73, 0xe9])),
    undefined,
    'windows-1252',
  );
  t.equal(
    check('/ppp/secret', 'name', Buffer.from('\u0416\u0435\u043d\u044f', 'utf8')),
    undefined,
    'UTF-8',
  );
  t.equal(
    check('/ppp/secret', 'name', Buffer.from('\u0416'.repeat(32), 'utf8')),
    undefined,
    '64 bytes',
  );
  t.equal(
    check('/ppp/secret', 'name', Buffer.from('\u0416'.repeat(32) + 'a', 'utf8')),
    'user-name',
    '65 bytes',
  );
});

t.test('the first failing attribute is reported', async (t) => {
  const values = new Map([
    ['comment', 'fine'],
    ['limit-uptime', 'x'],
    ['mac-address', 'y'],
  ]);
  t.equal(checkInput('/ip/hotspot/user', values, LIMITS)?.attribute, 'limit-uptime');
});
