import { Database, type Menu, type MenuMessages, type Row } from './database.js';
import { Prng } from './prng.js';
import { versionProfile } from './version.js';

/** What the generated data depends on. */
export interface SeedOptions {
  seed: number;
  version: string;
  user: string;
  password: string;
  /** More API accounts, name to password. */
  users: Readonly<Record<string, string>>;
  interfaces: number;
  hotspotUsers: number;
  pppSecrets: number;
  now: () => number;
  messages: MenuMessages;
}

const BOOL = 'bool';
const TEXT = 'text';

/** `1w2d03:04:05`-style uptime as RouterOS prints it (`1w2d3h4m5s`). */
export function formatUptime(seconds: number): string {
  let rest = Math.max(0, Math.floor(seconds));
  const parts: string[] = [];
  const units: [number, string][] = [
    [604800, 'w'],
    [86400, 'd'],
    [3600, 'h'],
    [60, 'm'],
  ];
  for (const [size, unit] of units) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  parts.push(`${rest}s`);
  return parts.join('');
}

function set(row: Row, name: string, value: string): Row {
  row.set(name, Buffer.from(value, 'latin1'));
  return row;
}

function mac(prng: Prng): string {
  const bytes = [0x4c, 0x5e, 0x0c, prng.int(0, 255), prng.int(0, 255), prng.int(0, 255)];
  return bytes.map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(':');
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** What every part of the seed shares: the options, the database, and two random streams. */
interface Seeding {
  options: SeedOptions;
  db: Database;
  /** Drives the data laid down at start (ids, names, counters), in a fixed order. */
  prng: Prng;
  /** Drives the values that change on every read (cpu load, free memory). */
  live: Prng;
  /** When the simulated router booted, ms since the epoch. */
  bootedAt: number;
}

/**
 * Build every menu and fill it with data that depends only on the options.
 * The parts run in a fixed order: each draws from the same random stream.
 */
export function seedDatabase(options: SeedOptions): Database {
  const prng = new Prng(options.seed);
  const live = new Prng(options.seed ^ 0x5eed);
  const bootedAt = options.now() - prng.int(3600, 40 * 86400) * 1000;
  const seeding: Seeding = { options, db: new Database(options.messages), prng, live, bootedAt };
  seedSystem(seeding);
  seedInterfaces(seeding);
  seedAddresses(seeding);
  const profileNames = seedHotspotProfiles(seeding);
  const hotspotUsers = seedHotspotUsers(seeding, profileNames);
  seedHotspotSessions(seeding, hotspotUsers);
  seedPppProfiles(seeding);
  seedPppSecrets(seeding);
  seedQueues(seeding);
  seedAddressLists(seeding);
  seedUsers(seeding);
  return seeding.db;
}

/** /system/identity, /system/resource and /system/clock. */
function seedSystem({ options, db, prng, live, bootedAt }: Seeding): void {
  const identity = db.define({
    path: '/system/identity',
    writable: { name: TEXT },
    singleton: true,
  });
  identity.set([], { name: 'MikroTik' });

  const board = prng.pick(['RB4011iGS+', 'hAP ac^2', 'CCR2004-16G-2S+', 'RB5009UG+S+']);
  const totalMemory = 1024 * 1024 * 1024;
  db.define({
    path: '/system/resource',
    writable: {},
    singleton: true,
    verbs: ['print', 'getall', 'get'],
    refresh: (row) => {
      set(row, 'uptime', formatUptime((options.now() - bootedAt) / 1000));
      set(row, 'cpu-load', String(live.int(0, 35)));
      set(row, 'free-memory', String(totalMemory - live.int(100, 300) * 1024 * 1024));
      return row;
    },
  }).set(
    [],
    {
      version: `${options.version} (stable)`,
      'build-time': '2025-05-20 10:00:00',
      'factory-software': '6.45.9',
      'free-memory': String(totalMemory / 2),
      'total-memory': String(totalMemory),
      cpu: 'ARMv7',
      'cpu-count': '4',
      'cpu-frequency': '1400',
      'cpu-load': '0',
      'free-hdd-space': '400000000',
      'total-hdd-space': '536870912',
      'architecture-name': 'arm',
      'board-name': board,
      platform: 'MikroTik',
    },
    true,
  );

  const { isoDates } = versionProfile(options.version);
  db.define({
    path: '/system/clock',
    writable: { 'time-zone-name': TEXT, 'time-zone-autodetect': BOOL },
    singleton: true,
    refresh: (row) => {
      const d = new Date(options.now());
      const pad = (n: number): string => String(n).padStart(2, '0');
      set(
        row,
        'time',
        `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`,
      );
      const day = pad(d.getUTCDate());
      set(
        row,
        'date',
        isoDates
          ? `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${day}`
          : `${MONTHS[d.getUTCMonth()] as string}/${day}/${d.getUTCFullYear()}`,
      );
      return row;
    },
  }).set(
    [],
    { 'time-zone-name': 'UTC', 'time-zone-autodetect': 'true', 'gmt-offset': '+00:00' },
    true,
  );
}

/** /interface: the ethernet ports, a bridge and a VLAN. */
function seedInterfaces({ options, db, prng }: Seeding): void {
  const interfaces = db.define({
    path: '/interface',
    writable: { name: TEXT, mtu: TEXT, comment: TEXT, disabled: BOOL },
    unique: ['name'],
    duplicateMessage: 'failure: already have interface with such name',
    verbs: ['print', 'getall', 'get', 'set', 'enable', 'disable', 'unset', 'listen'],
  });
  const ether = (i: number): string => `ether${i}`;
  for (let i = 1; i <= options.interfaces; i++) {
    interfaces.add(
      {
        name: ether(i),
        'default-name': ether(i),
        type: 'ether',
        mtu: '1500',
        'actual-mtu': '1500',
        'mac-address': mac(prng),
        running: i <= 2 || prng.next() < 0.5 ? 'true' : 'false',
        disabled: 'false',
      },
      true,
    );
  }
  interfaces.add(
    {
      name: 'bridge1',
      type: 'bridge',
      mtu: 'auto',
      'actual-mtu': '1500',
      'mac-address': mac(prng),
      running: 'true',
      disabled: 'false',
    },
    true,
  );
  interfaces.add(
    {
      name: 'vlan10',
      type: 'vlan',
      mtu: '1500',
      'actual-mtu': '1500',
      running: 'true',
      disabled: 'false',
      comment: 'guests',
    },
    true,
  );
}

/** /ip/address: one address on the bridge, one on the VLAN. */
function seedAddresses({ db }: Seeding): void {
  const addresses = db.define({
    path: '/ip/address',
    writable: {
      address: TEXT,
      network: TEXT,
      interface: { nameIn: '/interface' },
      comment: TEXT,
      disabled: BOOL,
    },
    defaults: { disabled: 'false' },
    unique: ['address', 'interface'],
  });
  addresses.add(
    {
      address: '192.168.88.1/24',
      network: '192.168.88.0',
      interface: 'bridge1',
      dynamic: 'false',
      invalid: 'false',
    },
    true,
  );
  addresses.add(
    {
      address: '10.5.50.1/24',
      network: '10.5.50.0',
      interface: 'vlan10',
      dynamic: 'false',
      invalid: 'false',
    },
    true,
  );
}

/** /ip/hotspot/user/profile; the names of the profiles. */
function seedHotspotProfiles({ db }: Seeding): string[] {
  const hsProfiles = db.define({
    path: '/ip/hotspot/user/profile',
    writable: {
      name: TEXT,
      'shared-users': TEXT,
      'rate-limit': TEXT,
      'session-timeout': TEXT,
      'idle-timeout': TEXT,
      'keepalive-timeout': TEXT,
      'on-login': TEXT,
    },
    defaults: { 'shared-users': '1', 'idle-timeout': 'none', 'keepalive-timeout': '2m' },
    unique: ['name'],
  });
  const profileNames = ['default', '1h-2M', '1d-5M', '7d-10M', '30d-20M'];
  for (const name of profileNames) {
    hsProfiles.add(
      name === 'default'
        ? { name, default: 'true' }
        : { name, 'rate-limit': name.split('-')[1] + '/' + name.split('-')[1], default: 'false' },
      true,
    );
  }
  return profileNames;
}

/** /ip/hotspot/user: voucher users on those profiles, half with a billing comment. */
function seedHotspotUsers({ options, db, prng }: Seeding, profileNames: string[]): Menu {
  const hsUsers = db.define({
    path: '/ip/hotspot/user',
    writable: {
      server: TEXT,
      name: TEXT,
      password: TEXT,
      profile: { nameIn: '/ip/hotspot/user/profile' },
      'limit-uptime': TEXT,
      'limit-bytes-total': TEXT,
      'limit-bytes-in': TEXT,
      'limit-bytes-out': TEXT,
      'mac-address': TEXT,
      address: TEXT,
      email: TEXT,
      comment: TEXT,
      disabled: BOOL,
    },
    defaults: {
      server: 'all',
      profile: 'default',
      disabled: 'false',
      uptime: '0s',
      'bytes-in': '0',
      'bytes-out': '0',
      'packets-in': '0',
      'packets-out': '0',
      dynamic: 'false',
    },
    unique: ['name'],
    duplicateMessage: 'failure: already have user with this name for this server',
  });
  const limits = ['1h', '1d', '7d', '30d'];
  for (let i = 1; i <= options.hotspotUsers; i++) {
    const profile = prng.pick(profileNames);
    const values: Record<string, string> = {
      name: `u${String(i).padStart(5, '0')}${prng.token(3)}`,
      password: prng.token(6),
      profile,
      'limit-uptime': prng.pick(limits),
      uptime: formatUptime(prng.int(0, 86400)),
      'bytes-in': String(prng.int(0, 1e9)),
      'bytes-out': String(prng.int(0, 1e8)),
      disabled: prng.next() < 0.1 ? 'true' : 'false',
    };
    if (prng.next() < 0.5)
      values.comment = `VOUCHER_SYSTEM|${prng.int(1, 50) * 1000}|${profile}|batch${prng.int(1, 9)}`;
    hsUsers.add(values, true);
  }
  return hsUsers;
}

/** /ip/hotspot/active and /ip/hotspot/host: sessions of the first hotspot users. */
function seedHotspotSessions({ options, db, prng }: Seeding, hsUsers: Menu): void {
  const active = db.define({
    path: '/ip/hotspot/active',
    writable: {},
    verbs: ['print', 'getall', 'get', 'remove', 'listen'],
  });
  const hosts = db.define({
    path: '/ip/hotspot/host',
    writable: { comment: TEXT },
    verbs: ['print', 'getall', 'get', 'set', 'remove', 'listen'],
  });
  const userRows = hsUsers.rows().slice(0, Math.min(10, options.hotspotUsers));
  userRows.forEach((row, i) => {
    const address = `10.5.50.${10 + i}`;
    const macAddress = mac(prng);
    active.add(
      {
        server: 'hotspot1',
        user: row.get('name') as Buffer,
        address,
        'mac-address': macAddress,
        'login-by': 'http-chap',
        uptime: formatUptime(prng.int(60, 7200)),
        'session-time-left': formatUptime(prng.int(60, 7200)),
        'idle-time': '0s',
        'bytes-in': String(prng.int(0, 1e8)),
        'bytes-out': String(prng.int(0, 1e7)),
        radius: 'false',
      },
      true,
    );
    hosts.add(
      {
        'mac-address': macAddress,
        address,
        'to-address': address,
        server: 'hotspot1',
        authorized: 'true',
        bypassed: 'false',
        'idle-time': '0s',
      },
      true,
    );
  });
}

/** /ppp/profile. */
function seedPppProfiles({ db }: Seeding): void {
  const pppProfiles = db.define({
    path: '/ppp/profile',
    writable: {
      name: TEXT,
      'local-address': TEXT,
      'remote-address': TEXT,
      'rate-limit': TEXT,
      'only-one': ['default', 'yes', 'no'],
      comment: TEXT,
    },
    defaults: { 'only-one': 'default' },
    unique: ['name'],
  });
  for (const name of ['default', 'default-encryption', 'pppoe-10M', 'pppoe-50M']) {
    pppProfiles.add(
      name.startsWith('pppoe')
        ? {
            name,
            'rate-limit': name.slice(6) + '/' + name.slice(6),
            'local-address': '10.10.0.1',
            'remote-address': 'pppoe-pool',
            default: 'false',
          }
        : { name, default: 'true' },
      true,
    );
  }
}

/** /ppp/secret and /ppp/active: PPPoE clients, the first five connected. */
function seedPppSecrets({ options, db, prng }: Seeding): void {
  const secrets = db.define({
    path: '/ppp/secret',
    writable: {
      name: TEXT,
      password: TEXT,
      service: ['any', 'async', 'l2tp', 'ovpn', 'pppoe', 'pptp', 'sstp'],
      profile: { nameIn: '/ppp/profile' },
      'local-address': TEXT,
      'remote-address': TEXT,
      'caller-id': TEXT,
      comment: TEXT,
      disabled: BOOL,
    },
    defaults: {
      service: 'any',
      profile: 'default',
      disabled: 'false',
      'last-logged-out': '1970-01-01 00:00:00',
    },
    unique: ['name'],
    // As routers word it (billing panels match this text to update instead).
    duplicateMessage: 'failure: secret with the same name already exists',
  });
  const pppActive = db.define({
    path: '/ppp/active',
    writable: {},
    verbs: ['print', 'getall', 'get', 'remove', 'listen'],
  });
  for (let i = 1; i <= options.pppSecrets; i++) {
    const name = `client${String(i).padStart(4, '0')}`;
    const address = `10.10.${Math.floor(i / 250)}.${(i % 250) + 2}`;
    secrets.add(
      {
        name,
        password: prng.token(8),
        service: 'pppoe',
        profile: prng.pick(['pppoe-10M', 'pppoe-50M']),
        'remote-address': address,
        disabled: prng.next() < 0.05 ? 'true' : 'false',
      },
      true,
    );
    if (i <= 5) {
      pppActive.add(
        {
          name,
          service: 'pppoe',
          'caller-id': mac(prng),
          address,
          uptime: formatUptime(prng.int(60, 86400)),
          encoding: '',
          'session-id': `0x8${prng.int(1000000, 9999999)}`,
          'limit-bytes-in': '0',
          'limit-bytes-out': '0',
          radius: 'false',
        },
        true,
      );
    }
  }
}

/** /queue/simple: the dynamic queues of the connected PPPoE clients. */
function seedQueues({ options, db }: Seeding): void {
  const queues = db.define({
    path: '/queue/simple',
    writable: {
      name: TEXT,
      target: TEXT,
      'max-limit': TEXT,
      'limit-at': TEXT,
      parent: TEXT,
      priority: TEXT,
      comment: TEXT,
      disabled: BOOL,
    },
    defaults: {
      'max-limit': '0/0',
      'limit-at': '0/0',
      parent: 'none',
      priority: '8/8',
      disabled: 'false',
      bytes: '0/0',
      packets: '0/0',
      dynamic: 'false',
      invalid: 'false',
    },
    unique: ['name'],
  });
  for (let i = 1; i <= Math.min(5, options.pppSecrets); i++) {
    queues.add(
      {
        name: `<pppoe-client${String(i).padStart(4, '0')}>`,
        target: `10.10.0.${i + 2}/32`,
        'max-limit': '10M/10M',
        dynamic: 'true',
      },
      true,
    );
  }
}

/** /ip/firewall/address-list. */
function seedAddressLists({ db }: Seeding): void {
  const lists = db.define({
    path: '/ip/firewall/address-list',
    writable: { list: TEXT, address: TEXT, timeout: TEXT, comment: TEXT, disabled: BOOL },
    defaults: { disabled: 'false', dynamic: 'false', 'creation-time': '2025-01-01 00:00:00' },
    unique: ['list', 'address'],
  });
  for (let i = 1; i <= 5; i++)
    lists.add({ list: i <= 3 ? 'blocked' : 'allowed', address: `203.0.113.${i}` }, true);
}

/** /user: the API user. */
function seedUsers({ options, db }: Seeding): void {
  const users = db.define({
    path: '/user',
    writable: {
      name: TEXT,
      group: ['full', 'read', 'write'],
      password: TEXT,
      address: TEXT,
      comment: TEXT,
      disabled: BOOL,
    },
    defaults: { group: 'read', disabled: 'false', 'last-logged-in': '1970-01-01 00:00:00' },
    unique: ['name'],
    // A router never prints a password; the login reads it (secretOf).
    hidden: ['password'],
  });
  // Names and passwords are text: UTF-8 on the wire, as clients send them.
  const account = (name: string, password: string, comment?: string) =>
    users.add(
      {
        name: Buffer.from(name, 'utf8'),
        group: 'full',
        password: Buffer.from(password, 'utf8'),
        ...(comment === undefined ? {} : { comment }),
      },
      true,
    );
  account(options.user, options.password, 'system default user');
  for (const [name, password] of Object.entries(options.users)) {
    if (name !== options.user) account(name, password);
  }
}
