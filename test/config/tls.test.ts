import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import {
  loadConfig,
  redactConfig,
  validateConfig,
  type RouterConfig,
  type SecretFiles,
} from '../../src/config/index.js';
import { problemsOf, problemsOfAsync, ROUTER } from './fixtures/helpers.js';

const PEM_DIR = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
const pem = (name: string): string => readFileSync(join(PEM_DIR, name), 'utf8');
const CERT = pem('cert.pem');
const KEY = pem('key.pem');
const OTHER_CERT = pem('other-cert.pem');
const OTHER_KEY = pem('other-key.pem');

/** The files a config naming `cert.pem`, `key.pem` and `ca.pem` reads. */
const FILES: SecretFiles = new Map([
  ['cert.pem', CERT],
  ['key.pem', KEY],
  ['ca.pem', CERT],
  ['other-key.pem', OTHER_KEY],
  ['not-pem.txt', 'hello\n'],
]);

const router = (extra: Record<string, unknown>) => ({ routers: [{ ...ROUTER, ...extra }] });
const first = (raw: unknown, env: NodeJS.ProcessEnv = {}, files = FILES): RouterConfig =>
  validateConfig(raw, env, files).config.routers[0] as RouterConfig;

interface RuleCase {
  name: string;
  raw: unknown;
  env?: NodeJS.ProcessEnv;
  problems: string[];
}

const cases: RuleCase[] = [
  {
    name: 'tls is a mapping',
    raw: router({ tls: 8729 }),
    problems: ['routers[0].tls must be a mapping'],
  },
  {
    name: 'tls keys are known',
    raw: router({ tls: { cert: 'cert.pem' } }),
    problems: ['routers[0].tls.cert is not a known key (did you mean certFile?)'],
  },
  {
    name: 'a TLS port is 0-65535',
    raw: router({ tls: { port: 70000 } }),
    problems: ['routers[0].tls.port must be an integer 0-65535'],
  },
  {
    name: 'a TLS host is a non-empty string',
    raw: router({ tls: { host: '' } }),
    problems: ['routers[0].tls.host must be a non-empty string (quote numbers in YAML)'],
  },
  {
    name: 'a certificate comes with its key',
    raw: router({ tls: { certFile: 'cert.pem' } }),
    problems: ['routers[0].tls must set both certFile and keyFile, or neither'],
  },
  {
    name: 'a key comes with its certificate',
    raw: router({ tls: { keyFile: 'key.pem' } }),
    problems: ['routers[0].tls must set both certFile and keyFile, or neither'],
  },
  {
    name: 'the certificate and key files must have been read',
    raw: router({ tls: { certFile: 'missing.pem', keyFile: 'gone.pem' } }),
    problems: [
      'routers[0].tls.certFile cannot be read: missing.pem (ENOENT)',
      'routers[0].tls.keyFile cannot be read: gone.pem (ENOENT)',
    ],
  },
  {
    name: 'certificate and key file names are strings',
    raw: router({ tls: { certFile: 5, keyFile: '' } }),
    problems: [
      'routers[0].tls.certFile must be a non-empty string (quote numbers in YAML)',
      'routers[0].tls.keyFile must be a non-empty string (quote numbers in YAML)',
    ],
  },
  {
    name: 'the certificate file holds a PEM certificate',
    raw: router({ tls: { certFile: 'not-pem.txt', keyFile: 'key.pem' } }),
    problems: ['routers[0].tls.certFile is not a PEM certificate: not-pem.txt'],
  },
  {
    name: 'the key file holds a PEM private key',
    raw: router({ tls: { certFile: 'cert.pem', keyFile: 'not-pem.txt' } }),
    problems: ['routers[0].tls.keyFile is not a PEM private key: not-pem.txt'],
  },
  {
    name: 'the key belongs to the certificate',
    raw: router({ tls: { certFile: 'cert.pem', keyFile: 'other-key.pem' } }),
    problems: ['routers[0].tls.keyFile does not match routers[0].tls.certFile'],
  },
  {
    name: 'a TLS listener without a certificate needs the anonymous suites',
    raw: router({ tls: { allowAnonymous: false } }),
    problems: [
      'routers[0].tls.allowAnonymous must be true without certFile and keyFile (a TLS listener needs a certificate or anonymous suites)',
    ],
  },
  {
    name: 'allowAnonymous is a boolean',
    raw: router({ tls: { certFile: 'cert.pem', keyFile: 'key.pem', allowAnonymous: 'yes' } }),
    problems: ['routers[0].tls.allowAnonymous must be true or false'],
  },
  {
    name: 'minVersion is TLSv1.2 or TLSv1.3',
    raw: router({ tls: { minVersion: 'TLSv1.1' } }),
    problems: ['routers[0].tls.minVersion must be one of TLSv1.2, TLSv1.3'],
  },
  {
    name: 'anonymous suites rule out TLS 1.3 as the minimum',
    raw: router({
      tls: {
        certFile: 'cert.pem',
        keyFile: 'key.pem',
        allowAnonymous: true,
        minVersion: 'TLSv1.3',
      },
    }),
    problems: [
      'routers[0].tls.minVersion must be TLSv1.2 when allowAnonymous is true (TLS 1.3 has no anonymous suites)',
    ],
  },
  {
    name: 'a TLS port is not the same router plain port',
    raw: router({ listen: { port: 8729 }, tls: {} }),
    problems: ['routers[0].tls.port is duplicated (first at routers[0].listen.port)'],
  },
  {
    name: 'TLS ports are unique across routers',
    raw: {
      routers: [
        { ...ROUTER, name: 'a', listen: { port: 1 }, tls: {} },
        { ...ROUTER, name: 'b', listen: { port: 2 }, tls: {} },
      ],
    },
    problems: ['routers[1].tls.port is duplicated (first at routers[0].tls.port)'],
  },
  {
    name: 'a TLS port is not another router plain port',
    raw: {
      routers: [
        { ...ROUTER, name: 'a', listen: { port: 8729 } },
        { ...ROUTER, name: 'b', listen: { port: 2 }, tls: {} },
      ],
    },
    problems: ['routers[1].tls.port is duplicated (first at routers[0].listen.port)'],
  },
  {
    name: 'the monitoring port is not a TLS port',
    raw: router({ tls: { port: 9728 } }),
    problems: ['monitoring.port is already used by routers[0].tls.port'],
  },
  {
    name: 'upstreamTls is one of the four modes',
    raw: router({ upstreamTls: 'on' }),
    problems: ['routers[0].upstreamTls must be one of off, verify, insecure, anonymous'],
  },
  {
    name: 'upstreamCaFile is only for upstreamTls verify',
    raw: router({ upstreamTls: 'insecure', upstreamCaFile: 'ca.pem' }),
    problems: ['routers[0].upstreamCaFile is only used with upstreamTls: verify'],
  },
  {
    name: 'upstreamCaFile without upstreamTls is a mistake',
    raw: router({ upstreamCaFile: 'ca.pem' }),
    problems: ['routers[0].upstreamCaFile is only used with upstreamTls: verify'],
  },
  {
    name: 'upstreamCaFile must have been read',
    raw: router({ upstreamTls: 'verify', upstreamCaFile: 'nope.pem' }),
    problems: ['routers[0].upstreamCaFile cannot be read: nope.pem (ENOENT)'],
  },
  {
    name: 'upstreamCaFile holds a PEM certificate',
    raw: router({ upstreamTls: 'verify', upstreamCaFile: 'not-pem.txt' }),
    problems: ['routers[0].upstreamCaFile is not a PEM certificate: not-pem.txt'],
  },
  {
    name: 'PROXY_TLS_PORT is a port',
    raw: router({}),
    env: { PROXY_TLS_PORT: 'api-ssl' },
    problems: ['PROXY_TLS_PORT must be an integer 0-65535'],
  },
  {
    name: 'MIKROTIK_TLS is one of the four modes',
    raw: router({}),
    env: { MIKROTIK_TLS: 'yes' },
    problems: ['MIKROTIK_TLS must be one of off, verify, insecure, anonymous'],
  },
];

for (const c of cases) {
  t.test(c.name, (t) => {
    t.same(
      problemsOf(() => validateConfig(c.raw, c.env, FILES)),
      c.problems,
    );
    t.end();
  });
}

t.test('the TLS listener is off unless set, and an empty tls: key leaves it off', (t) => {
  t.equal(first(router({})).tls, undefined);
  t.equal(first(router({ tls: null })).tls, undefined);
  t.end();
});

t.test('a TLS listener without a certificate offers anonymous suites on 8729', (t) => {
  t.same(first(router({ listen: { host: '127.0.0.1' }, tls: {} })).tls, {
    host: '127.0.0.1',
    port: 8729,
    allowAnonymous: true,
    minVersion: 'TLSv1.2',
  });
  t.end();
});

t.test('a TLS listener with a certificate carries the PEM contents, not only the names', (t) => {
  const tls = first(
    router({ tls: { certFile: 'cert.pem', keyFile: 'key.pem', host: '::1', port: 0 } }),
  ).tls;
  t.match(tls, {
    host: '::1',
    port: 0,
    certFile: 'cert.pem',
    keyFile: 'key.pem',
    allowAnonymous: false,
    minVersion: 'TLSv1.2',
  });
  t.equal(tls?.cert?.toString(), CERT);
  t.equal(tls?.key?.toString(), KEY);
  t.end();
});

t.test('a certificate listener may also offer anonymous suites, or require TLS 1.3', (t) => {
  const both = { certFile: 'cert.pem', keyFile: 'key.pem' };
  t.equal(first(router({ tls: { ...both, allowAnonymous: true } })).tls?.allowAnonymous, true);
  t.equal(first(router({ tls: { ...both, minVersion: 'TLSv1.3' } })).tls?.minVersion, 'TLSv1.3');
  t.end();
});

t.test('two routers may both ask for an ephemeral TLS port', (t) => {
  const { config } = validateConfig({
    routers: [
      { ...ROUTER, name: 'a', listen: { port: 0 }, tls: { port: 0 } },
      { ...ROUTER, name: 'b', listen: { port: 0 }, tls: { port: 0 } },
    ],
  });
  t.same(
    config.routers.map((r) => r.tls?.port),
    [0, 0],
  );
  t.end();
});

t.test('upstream TLS defaults to off on 8728 and to 8729 in every TLS mode', (t) => {
  t.match(first(router({})), { upstreamTls: 'off', port: 8728 });
  for (const mode of ['verify', 'insecure', 'anonymous']) {
    t.match(first(router({ upstreamTls: mode })), { upstreamTls: mode, port: 8729 }, mode);
    t.equal(first(router({ upstreamTls: mode, port: 9999 })).port, 9999, 'an explicit port wins');
  }
  t.end();
});

t.test('upstream TLS that does not check the router raises a warning naming the mode', (t) => {
  const warningsOf = (raw: unknown, env: NodeJS.ProcessEnv = {}) =>
    validateConfig(raw, { P: 'x', ...env }, FILES).warnings;
  const plain = { host: 'r', passwordEnv: 'P' };
  t.same(warningsOf({ routers: [{ ...plain, upstreamTls: 'insecure' }] }), [
    {
      code: 'ROSGATE_CONFIG_UPSTREAM_TLS_UNVERIFIED',
      path: 'routers[0].upstreamTls',
      message:
        "routers[0].upstreamTls is insecure: the router's certificate is not checked; prefer verify with upstreamCaFile",
    },
  ]);
  t.match(warningsOf({ routers: [plain] }, { MIKROTIK_TLS: 'anonymous' }), [
    {
      code: 'ROSGATE_CONFIG_UPSTREAM_TLS_UNVERIFIED',
      path: 'MIKROTIK_TLS',
      message: /^MIKROTIK_TLS is anonymous: /,
    },
  ]);
  for (const upstreamTls of ['off', 'verify']) {
    t.same(warningsOf({ routers: [{ ...plain, upstreamTls }] }), [], upstreamTls);
  }
  t.end();
});

t.test('upstream verify carries the CA file contents', (t) => {
  const r = first(router({ upstreamTls: 'verify', upstreamCaFile: 'ca.pem' }));
  t.equal(r.upstreamCaFile, 'ca.pem');
  t.equal(r.upstreamCa?.toString(), CERT);
  t.equal(first(router({ upstreamTls: 'verify' })).upstreamCa, undefined, 'system CAs otherwise');
  t.end();
});

t.test('PROXY_TLS_PORT turns on the TLS listener of the first router', (t) => {
  const { config } = validateConfig(
    {
      routers: [
        { ...ROUTER, name: 'a', listen: { port: 1 } },
        { ...ROUTER, name: 'b', listen: { port: 2 } },
      ],
    },
    { PROXY_TLS_PORT: '18729' },
  );
  t.match(config.routers[0]?.tls, { port: 18729, allowAnonymous: true });
  t.equal(config.routers[1]?.tls, undefined, 'only the first router');
  t.end();
});

t.test('PROXY_TLS_PORT overrides the port of a configured TLS listener only', (t) => {
  const tls = first(router({ tls: { certFile: 'cert.pem', keyFile: 'key.pem' } }), {
    PROXY_TLS_PORT: '0',
  }).tls;
  t.match(tls, { port: 0, certFile: 'cert.pem', allowAnonymous: false });
  t.end();
});

t.test('a clash caused by PROXY_TLS_PORT names the variable', (t) => {
  t.same(
    problemsOf(() => validateConfig(router({}), { PROXY_TLS_PORT: '8728' })),
    ['PROXY_TLS_PORT is duplicated (first at routers[0].listen.port)'],
  );
  t.end();
});

t.test('MIKROTIK_TLS sets how the first router is reached, on 8729 by default', (t) => {
  t.match(first(router({}), { MIKROTIK_TLS: 'anonymous' }), {
    upstreamTls: 'anonymous',
    port: 8729,
  });
  t.match(first(router({}), { MIKROTIK_TLS: 'insecure', MIKROTIK_PORT: '8730' }), {
    upstreamTls: 'insecure',
    port: 8730,
  });
  t.end();
});

t.test('the private key never shows in the redacted config', (t) => {
  const { config } = validateConfig(
    router({
      tls: { certFile: 'cert.pem', keyFile: 'key.pem' },
      upstreamTls: 'verify',
      upstreamCaFile: 'ca.pem',
    }),
    {},
    FILES,
  );
  const redacted = redactConfig(config);
  t.match(redacted.routers[0]?.tls, { key: '***', keyFile: 'key.pem', certFile: 'cert.pem' });
  const text = JSON.stringify(redacted);
  t.notMatch(text, 'PRIVATE KEY');
  t.notMatch(text, KEY.split('\n')[1] as string);
  t.end();
});

t.test('loadConfig reads the PEM files relative to the config file', async (t) => {
  const dir = t.testdir({
    'rosgate.yaml': [
      'routers:',
      '  - host: 192.0.2.1',
      '    passwordFile: pw.txt',
      '    upstreamTls: verify',
      '    upstreamCaFile: tls/ca.pem',
      '    tls: { certFile: tls/cert.pem, keyFile: tls/key.pem, port: 18729 }',
      '',
    ].join('\n'),
    'pw.txt': 'pw\n',
    tls: { 'cert.pem': CERT, 'key.pem': KEY, 'ca.pem': OTHER_CERT },
  });
  const r = (await loadConfig({ file: join(dir, 'rosgate.yaml'), env: {} })).config
    .routers[0] as RouterConfig;
  t.equal(r.tls?.cert?.toString(), CERT);
  t.equal(r.tls?.key?.toString(), KEY);
  t.equal(r.upstreamCa?.toString(), OTHER_CERT);
  t.equal(r.port, 8729);
});

t.test('a missing PEM file is reported by loadConfig with the other problems', async (t) => {
  const dir = t.testdir({
    'rosgate.yaml':
      'routers:\n  - host: r\n    password: x\n    tls: { certFile: c.pem, keyFile: k.pem }\n',
  });
  t.same(await problemsOfAsync(loadConfig({ file: join(dir, 'rosgate.yaml'), env: {} })), [
    'routers[0].tls.certFile cannot be read: c.pem (ENOENT)',
    'routers[0].tls.keyFile cannot be read: k.pem (ENOENT)',
  ]);
});
