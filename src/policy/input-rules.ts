/**
 * Value rules by attribute name and menu: what a user name, an address, a
 * MAC, a duration, a byte count or an item id must look like, and how long
 * any value may be. Comments are only bounded in length: they hold JSON,
 * `|`-separated voucher data, quotes and bytes of any code page.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { CommandGlob } from './command-glob.js';
import { SCRIPT_ATTRIBUTES } from './script-scan.js';

/** The first value that broke a rule. */
export interface InputFailure {
  /** The rule's name: `mac-address`, `max-length`, ... */
  readonly rule: string;
  readonly attribute: string;
  /** For the client: `invalid value for mac-address: must be a MAC address`. */
  readonly message: string;
}

/** Length bounds, in bytes, per value. */
export interface InputLimits {
  /** Any value but scripts and comments. @default 1000 */
  readonly maxStringLength: number;
  /** Scripts (`source`, `on-event`, ...), comments and file contents. @default 65536 */
  readonly maxScriptLength: number;
}

interface ValueRule {
  readonly name: string;
  readonly attributes: readonly string[];
  /** Menus (`/ip/hotspot/user`) where it applies; every menu when absent. */
  readonly menus?: readonly string[];
  readonly requirement: string;
  test(value: string): boolean;
}

/**
 * A user or secret name: letters, digits, `@ . _ -`, the `+` of a phone
 * number (`+254712345678`, hotspots paid by mobile money) or of an e-mail's
 * tag, and bytes beyond ASCII (a name in UTF-8 or a Windows code page).
 * Spaces, quotes, control characters and script syntax (`$ ; [ ] < >`) break it.
 */
const USER_NAME = /^[A-Za-z0-9@._+\x80-\xff-]{1,64}$/;
const MAC = /^[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2})(?:\1[0-9A-Fa-f]{2}){4}$/;
const HOST_NAME = /^[A-Za-z0-9._@<>-]{1,255}$/;
/** `1w2d3h4m5s`, `500ms`, or plain seconds. */
const UNITS = /^(?=.)(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?$|^\d+$/;
const CLOCK = /^(?:(?:\d+w)?(?:\d+d)?\s?)?\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/;
const BYTES = /^\d+[kMG]?$/i;
const ITEM = /^(?:\*[0-9A-Fa-f]{1,16}|\d+|[^,[\]{};$"\\\p{Cc}]{1,64})$/u;

/** An IPv4 or IPv6 address, with an optional prefix length. */
function isPrefix(text: string): boolean {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const bits = isIPv4(address) ? 32 : isIPv6(address) ? 128 : -1;
  if (bits < 0) return false;
  if (slash < 0) return true;
  const length = text.slice(slash + 1);
  return /^\d{1,3}$/.test(length) && Number(length) <= bits;
}

/** `10.0.0.0/8`, `!10.0.0.1`, `10.0.0.1-10.0.0.9`, `2001:db8::/32`, comma-separated. */
function isAddressList(value: string, isNameOk: boolean): boolean {
  return value.split(',').every((raw) => {
    const item = raw.startsWith('!') ? raw.slice(1) : raw;
    const dash = item.indexOf('-');
    if (dash > 0) {
      const from = item.slice(0, dash);
      const to = item.slice(dash + 1);
      if ((isIPv4(from) && isIPv4(to)) || (isIPv6(from) && isIPv6(to))) return true;
    }
    return isPrefix(item) || (isNameOk && HOST_NAME.test(item));
  });
}

const orEmpty =
  (test: (value: string) => boolean) =>
  (value: string): boolean =>
    value === '' || test(value);

const RULES: readonly ValueRule[] = [
  {
    name: 'user-name',
    attributes: ['name'],
    menus: ['/ip/hotspot/user', '/ppp/secret', '/user', '/user-manager/user'],
    requirement: 'must be 1-64 bytes of letters, digits, @ . _ + - or non-ASCII (or a MAC address)',
    test: (value) => USER_NAME.test(value) || MAC.test(value),
  },
  {
    name: 'ip-address',
    attributes: ['address', 'dst-address', 'src-address', 'to-address', 'to-addresses'],
    menus: [
      '/ip/hotspot/user',
      '/ip/hotspot/ip-binding',
      '/ip/hotspot/walled-garden/ip',
      '/ip/address',
      '/ipv6/address',
      '/ip/arp',
      '/ip/route',
      '/ipv6/route',
      '/ip/dns/static',
      '/ip/firewall/filter',
      '/ip/firewall/nat',
      '/ip/firewall/mangle',
      '/ip/firewall/raw',
      '/ipv6/firewall/filter',
      '/ipv6/firewall/mangle',
      '/ipv6/firewall/raw',
    ],
    requirement: 'must be an IP address, prefix or range',
    test: orEmpty((value) => isAddressList(value, false)),
  },
  {
    name: 'ip-address',
    attributes: ['remote-address', 'local-address'],
    menus: ['/ppp/secret'],
    requirement: 'must be an IP address',
    test: orEmpty((value) => isIPv4(value) || isIPv6(value)),
  },
  {
    name: 'ip-address-or-name',
    attributes: ['address', 'target', 'dst'],
    menus: ['/ip/firewall/address-list', '/ipv6/firewall/address-list', '/queue/simple'],
    requirement: 'must be an IP address, prefix, range or name',
    test: orEmpty((value) => isAddressList(value, true)),
  },
  {
    name: 'mac-address',
    attributes: ['mac-address'],
    requirement: 'must be a MAC address',
    test: orEmpty((value) => MAC.test(value)),
  },
  {
    name: 'duration',
    attributes: [
      'limit-uptime',
      'session-timeout',
      'keepalive-timeout',
      'idle-timeout',
      'lease-time',
      'interval',
      'timeout',
    ],
    requirement: 'must be a duration (1d2h3m4s, 00:30:00 or none)',
    test: orEmpty(
      (value) => value === 'none' || value === 'disabled' || UNITS.test(value) || CLOCK.test(value),
    ),
  },
  {
    name: 'byte-count',
    attributes: ['limit-bytes-in', 'limit-bytes-out', 'limit-bytes-total'],
    requirement: 'must be a byte count (digits, optionally k, M or G)',
    test: orEmpty((value) => BYTES.test(value)),
  },
  {
    name: 'item-id',
    attributes: ['.id', 'numbers', 'number'],
    requirement: 'must be *hex ids, numbers or names, comma-separated',
    test: orEmpty((value) => value.split(',').every((item) => ITEM.test(item))),
  },
];

interface IndexedRule {
  readonly rule: ValueRule;
  readonly menus: readonly CommandGlob[] | undefined;
}

const BY_ATTRIBUTE = new Map<string, IndexedRule[]>();
for (const rule of RULES) {
  const menus = rule.menus?.map((menu) => new CommandGlob(menu));
  for (const attribute of rule.attributes) {
    const list = BY_ATTRIBUTE.get(attribute) ?? [];
    list.push({ rule, menus });
    BY_ATTRIBUTE.set(attribute, list);
  }
}

/** Values bounded by `maxScriptLength` instead of `maxStringLength`. */
const LONG_VALUES: ReadonlySet<string> = new Set([...SCRIPT_ATTRIBUTES, 'comment', 'contents']);

/**
 * The first attribute of a command in `menu` (`/ip/hotspot/user`) that
 * breaks a rule, or undefined. Values are latin1 text, so a value's length
 * is its length in bytes.
 */
export function checkInput(
  menu: string,
  attributes: ReadonlyMap<string, string>,
  limits: InputLimits,
): InputFailure | undefined {
  for (const [attribute, value] of attributes) {
    const max = LONG_VALUES.has(attribute) ? limits.maxScriptLength : limits.maxStringLength;
    if (value.length > max) {
      return failure('max-length', attribute, `must be at most ${max} bytes`);
    }
    const rules = BY_ATTRIBUTE.get(attribute);
    if (rules === undefined) continue;
    for (const { rule, menus } of rules) {
      if (menus !== undefined && !menus.some((glob) => glob.matches(menu))) continue;
      if (!rule.test(value)) return failure(rule.name, attribute, rule.requirement);
    }
  }
  return undefined;
}

function failure(rule: string, attribute: string, requirement: string): InputFailure {
  return { rule, attribute, message: `invalid value for ${attribute}: ${requirement}` };
}
