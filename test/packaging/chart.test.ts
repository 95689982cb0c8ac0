import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import YAML from 'yaml';
import { validateConfig } from '../../src/config/index.js';
import { leafPaths, reads, resolves, valuesPaths } from '../fixtures/pack-values-paths.js';

const root = new URL('../../', import.meta.url);
const chart = new URL('helm/rosgate/', root);
const read = (url: URL): string => readFileSync(url, 'utf8');
const templatesDir = new URL('templates/', chart);
const templates = Object.fromEntries(
  readdirSync(templatesDir).map((name) => [name, read(new URL(name, templatesDir))]),
);
const allTemplates = Object.values(templates).join('\n');
const values: Record<string, unknown> = YAML.parse(read(new URL('values.yaml', chart)));
const schema = JSON.parse(read(new URL('values.schema.json', chart)));
const validateValues = new Ajv2020({
  allErrors: true,
  strict: true,
  allowUnionTypes: true,
}).compile(schema);
const pkg = JSON.parse(read(new URL('package.json', root)));

t.test('every YAML file of the chart that is not a template parses', async (t) => {
  const files = ['Chart.yaml', 'values.yaml', 'files/alerts.yaml'];
  for (const file of files) {
    const doc = YAML.parseDocument(read(new URL(file, chart)));
    t.same(doc.errors, [], file);
  }
  t.same(
    YAML.parseDocument(read(new URL('deploy/prometheus/rosgate-alerts.yaml', root))).errors,
    [],
  );
});

t.test('the chart, its image tag and the package carry one version', async (t) => {
  const meta = YAML.parse(read(new URL('Chart.yaml', chart)));
  t.equal(meta.apiVersion, 'v2');
  t.equal(meta.name, 'rosgate');
  t.equal(meta.appVersion, pkg.version);
  t.equal((values['image'] as Record<string, unknown>)['tag'], pkg.version);
});

t.test('values.yaml passes its own schema', async (t) => {
  t.ok(validateValues(values), JSON.stringify(validateValues.errors));
});

t.test('a misspelt or mistyped value fails the schema, at any depth', async (t) => {
  const cases: [string, Record<string, unknown>][] = [
    ['a top-level typo', { ...values, replicas: 3 }],
    ['a nested typo', { ...values, image: { ...(values['image'] as object), tagg: '1' } }],
    ['an unknown mode', { ...values, mode: 'daemonset' }],
    ['a port out of range', { ...values, proxy: { ...(values['proxy'] as object), port: 70000 } }],
    [
      'a login encoding rosgate does not know (as the config schema lists them)',
      { ...values, router: { ...(values['router'] as object), loginEncoding: 'cp1251' } },
    ],
    ['a probe key Kubernetes does not have', { ...values, livenessProbe: { period: 5 } }],
    [
      'a monitoring token rosgate would refuse as too short',
      { ...values, secrets: { ...(values['secrets'] as object), monitoringToken: 'short' } },
    ],
  ];
  for (const [name, copy] of cases) t.notOk(validateValues(copy), name);
});

t.test('config is free-form, checked by the rosgate configuration schema', async (t) => {
  t.same(schema.properties.config, { $ref: '#/$defs/rosgateConfig' });
  const published = new URL('config.schema.json', root);
  if (existsSync(published)) {
    const { $schema: _s, $id: _i, ...configSchema } = JSON.parse(read(published));
    const { $id: _id, ...embedded } = schema.$defs.rosgateConfig;
    t.same(embedded, configSchema, 'the chart embeds the published config.schema.json');
  } else {
    t.equal(schema.$defs.rosgateConfig.type, 'object');
  }
  t.ok(validateValues({ ...values, config: { shutdown: { graceMs: 5000 } } }));
  t.notOk(validateValues({ ...values, config: 'routers: []' }));
});

t.test('the scanner finds values paths, and misspelt ones do not resolve', async (t) => {
  t.same(
    valuesPaths('{{ .Values.image.tag }} {{ $values.proxy.tls.port }} {{ get .Values "x" }}'),
    ['image.tag', 'proxy.tls.port'],
  );
  t.ok(resolves(values, 'image.tag'));
  t.ok(resolves(values, 'config.routers'), 'below a free-form map');
  t.notOk(resolves(values, 'image.tagg'));
  t.notOk(resolves(values, 'image.tag.major'));
  t.ok(reads('audit.volume', 'audit.volume.emptyDir.sizeLimit'));
  t.notOk(reads('audit.dir', 'audit.volume.emptyDir.sizeLimit'));
});

t.test('every value a template reads exists in values.yaml', async (t) => {
  const used = [...new Set(valuesPaths(allTemplates))];
  t.ok(used.length > 40);
  t.same(
    used.filter((path) => !resolves(values, path)),
    [],
  );
});

t.test('every value in values.yaml is read by some template', async (t) => {
  const used = valuesPaths(allTemplates);
  t.same(
    leafPaths(values).filter((leaf) => !used.some((path) => reads(path, leaf))),
    [],
  );
});

t.test('every template has balanced actions and blocks', async (t) => {
  for (const [name, text] of Object.entries(templates)) {
    t.equal(text.split('{{').length, text.split('}}').length, `${name}: {{ and }}`);
    const actions = [...text.matchAll(/\{\{-?\s*(\w+)/g)].map((m) => m[1]);
    const opened = actions.filter((a) => ['if', 'with', 'range', 'define'].includes(String(a)));
    t.equal(opened.length, actions.filter((a) => a === 'end').length, `${name}: blocks and ends`);
  }
});

t.test('the chart has the objects of both modes', async (t) => {
  t.same(Object.keys(templates).sort(), [
    'NOTES.txt',
    '_helpers.tpl',
    'configmap.yaml',
    'deployment.yaml',
    'grafana-dashboard-configmap.yaml',
    'hpa.yaml',
    'pdb.yaml',
    'prometheusrule.yaml',
    'secret.yaml',
    'service.yaml',
    'servicemonitor.yaml',
  ]);
  for (const name of ['deployment.yaml', 'service.yaml'])
    t.match(templates[name], /^\{\{- if eq \.Values\.mode "standalone" \}\}/, name);
  for (const name of ['pdb.yaml', 'hpa.yaml'])
    t.match(templates[name], /^\{\{- if and \(eq \.Values\.mode "standalone"\)/, name);
  t.equal(values['mode'], 'standalone');
  t.same(values['autoscaling'], { ...(values['autoscaling'] as object), enabled: false });
});

t.test(
  'the sidecar template is a native sidecar from Kubernetes 1.29, a plain container before',
  async (t) => {
    const helpers = String(templates['_helpers.tpl']);
    t.match(helpers, /define "rosgate\.sidecarContainer"/);
    t.match(helpers, /semverCompare ">=1\.29-0" \.Capabilities\.KubeVersion\.Version/);
    t.match(helpers, /include "rosgate\.nativeSidecar" \. \}\}\n {2}restartPolicy: Always/);
    t.same(values['sidecar'], { nativeSidecar: null });
  },
);

t.test(
  'the container is probed over HTTP and drains with a sleep action: no shell needed',
  async (t) => {
    const helpers = String(templates['_helpers.tpl']);
    t.match(
      helpers,
      /livenessProbe:\n {2}httpGet:\n {4}path: \/monitoring\/live\n {4}port: monitoring/,
    );
    t.match(
      helpers,
      /readinessProbe:\n {2}httpGet:\n {4}path: \/monitoring\/ready\n {4}port: monitoring/,
    );
    t.match(helpers, /semverCompare ">=1\.30-0"[^\n]*\}\}\nlifecycle:\n {2}preStop:\n {4}sleep:/);
    t.notMatch(allTemplates, /\bexec:|\/bin\/sh/);
    t.ok(
      Number(values['terminationGracePeriodSeconds']) > Number(values['preStopSleepSeconds']) + 10,
    );
  },
);

t.test(
  'the container runs read-only, non-root, without privileges, with the audit folder mounted',
  async (t) => {
    t.same(values['securityContext'], {
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    t.match(values['audit'], { dir: '/var/log/rosgate/audit', volume: { emptyDir: {} } });
    t.match(
      String(templates['_helpers.tpl']),
      /- name: rosgate-audit\n {4}mountPath: \{\{ \$values\.audit\.dir/,
    );
    t.match(values['resources'], {
      requests: { cpu: String, memory: String },
      limits: { memory: String },
    });
  },
);

/** Bytes of a Kubernetes quantity such as `1Gi` or `500M`. */
function quantityBytes(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (match === null) throw new Error(`not a quantity: ${quantity}`);
  const units: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Number(match[1]) * (units[match[2] ?? ''] ?? 1);
}

t.test(
  "the default audit trail is bounded below its volume's sizeLimit, and rosgate accepts the bound",
  async (t) => {
    t.equal(quantityBytes('1Gi'), 2 ** 30);
    t.equal(quantityBytes('500M'), 5e8);
    t.throws(() => quantityBytes('lots'));
    const audit = values['audit'] as {
      maxTotalBytes: number;
      volume: { emptyDir: { sizeLimit: string } };
    };
    const sizeLimit = quantityBytes(audit.volume.emptyDir.sizeLimit);
    t.ok(audit.maxTotalBytes > 0, 'bounded');
    t.ok(audit.maxTotalBytes <= sizeLimit * 0.8, 'with room left for head.json and the lock');
    t.match(
      String(templates['_helpers.tpl']),
      /\{\{- if \$values\.audit\.maxTotalBytes \}\}\n {2}- name: AUDIT_LOG_MAX_TOTAL_BYTES\n {4}value: \{\{ \$values\.audit\.maxTotalBytes \| int64 \| quote \}\}\n {2}\{\{- end \}\}/,
      'passed as an integer (helm would print a large float as 8.05e+08), and only when set: 0 leaves config.audit.maxTotalBytes alone',
    );
    const big = validateConfig(
      { audit: { maxFileBytes: 2 ** 30, toFile: false } },
      { AUDIT_LOG_MAX_TOTAL_BYTES: String(audit.maxTotalBytes) },
    );
    t.equal(
      big.config.audit.maxFileBytes,
      2 ** 30,
      'a trail not written to files has no bound to meet',
    );
    const { config } = validateConfig(
      {},
      { AUDIT_LOG_MAX_TOTAL_BYTES: String(audit.maxTotalBytes) },
    );
    t.equal(config.audit.maxTotalBytes, audit.maxTotalBytes);
    t.ok(audit.maxTotalBytes >= config.audit.maxFileBytes, 'room for one whole file');
  },
);

t.test('the Service exposes the API, API-SSL (when on) and admin ports', async (t) => {
  const service = String(templates['service.yaml']);
  for (const port of ['api', 'api-ssl', 'monitoring']) t.match(service, `targetPort: ${port}`);
  t.match(values, {
    proxy: { port: 8728, tls: { enabled: false, port: 8729 } },
    monitoring: { port: 9728 },
  });
});

t.test(
  'secrets come from the chart or an existing Secret, under the keys the container reads',
  async (t) => {
    t.match(
      String(templates['secret.yaml']),
      /^\{\{- if not \.Values\.secrets\.existingSecret \}\}/,
    );
    for (const key of ['router-password', 'monitoring-token']) {
      t.match(String(templates['secret.yaml']), `${key}:`);
      t.match(String(templates['_helpers.tpl']), `key: ${key}`);
    }
    t.match(String(templates['_helpers.tpl']), /\$values\.secrets\.existingSecret \| default/);
  },
);

t.test('Prometheus Operator objects appear only when enabled and their API exists', async (t) => {
  for (const name of ['servicemonitor.yaml', 'prometheusrule.yaml']) {
    const first = String(templates[name]).split('\n')[0];
    t.match(first, /\.enabled/, name);
    t.match(first, '(.Capabilities.APIVersions.Has "monitoring.coreos.com/v1")', name);
  }
  t.match(String(templates['prometheusrule.yaml']), '.Files.Get "files/alerts.yaml"');
  t.match(values['monitoring'], {
    serviceMonitor: { enabled: false },
    prometheusRule: { enabled: false },
    grafanaDashboard: { enabled: false, labels: { grafana_dashboard: '1' } },
  });
  t.match(
    String(templates['grafana-dashboard-configmap.yaml']),
    '.Files.Get "dashboards/rosgate-dashboard.json"',
  );
});

t.test('the plain alert rules under deploy/ are the chart rules', async (t) => {
  t.equal(
    read(new URL('deploy/prometheus/rosgate-alerts.yaml', root)),
    read(new URL('files/alerts.yaml', chart)),
  );
});

/** Helm's merge of user values over the chart's: maps merge, everything else replaces. */
function overlay(base: unknown, over: unknown): unknown {
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return over;
  if (typeof over !== 'object' || over === null || Array.isArray(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over))
    out[key] = overlay((base as Record<string, unknown>)[key], value);
  return out;
}

t.test("the operator guide's values examples pass the schema in both modes", async (t) => {
  const guide = read(new URL('README.md', chart));
  const blocks = [...guide.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => String(m[1]));
  const standalone = blocks.find((b) => b.startsWith('# my-values.yaml'));
  const sidecar = blocks.find((b) => b.startsWith('# values.yaml of your application'));
  const examples = [
    ['standalone', YAML.parse(String(standalone))],
    ['sidecar', YAML.parse(String(sidecar)).rosgate],
  ] as const;
  t.equal(examples[1][1].mode, 'sidecar');
  for (const [mode, example] of examples) {
    t.ok(
      validateValues(overlay(values, example)),
      `${mode}: ${JSON.stringify(validateValues.errors)}`,
    );
  }
  t.same(
    valuesPaths(guide).filter((path) => !resolves(values, path)),
    [],
    'every .Values path the guide names exists',
  );
});
