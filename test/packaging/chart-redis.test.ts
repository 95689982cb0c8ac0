import t from 'tap';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';

const chart = new URL('../../helm/rosgate/', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, chart), 'utf8');
const values = YAML.parse(read('values.yaml')) as Record<string, Record<string, unknown>>;

t.test('the chart shares nothing until redis.url or redis.existingSecret is set', async (t) => {
  t.same(values['redis'], {
    url: '',
    existingSecret: '',
    urlKey: 'redis-url',
    prefix: '',
    routerMaxSessions: 0,
    strict: false,
    allowUnshared: false,
  });
  t.equal(values['secrets']?.['redisPassword'], '');
});

t.test(
  'the container gets REDIS_URL from the value or the secret, and the other variables',
  async (t) => {
    const helpers = read('templates/_helpers.tpl');
    t.match(
      helpers,
      /if \$values\.redis\.existingSecret \}\}\n {2}- name: REDIS_URL\n {4}valueFrom:\n {6}secretKeyRef:\n {8}name: \{\{ \$values\.redis\.existingSecret \}\}\n {8}key: \{\{ \$values\.redis\.urlKey \}\}/,
    );
    t.match(
      helpers,
      /else if \$values\.redis\.url \}\}\n {2}- name: REDIS_URL\n {4}value: \{\{ \$values\.redis\.url \| quote \}\}/,
    );
    t.match(
      helpers,
      /- name: REDIS_PASSWORD\n {4}valueFrom:\n {6}secretKeyRef:\n {8}name: \{\{ \$secret \}\}\n {8}key: redis-password\n {8}optional: true/,
    );
    t.match(helpers, /with \$values\.redis\.prefix \}\}\n {2}- name: REDIS_PREFIX/);
    t.match(
      helpers,
      /with \$values\.redis\.routerMaxSessions \}\}\n {2}- name: ROUTER_MAX_SESSIONS/,
    );
    t.match(
      helpers,
      /if \$values\.redis\.strict \}\}\n {2}- name: REDIS_STRICT_CACHE\n {4}value: "true"/,
    );
    t.match(read('templates/secret.yaml'), /redis-password: \{\{ \. \| b64enc \| quote \}\}/);
  },
);

t.test(
  'standalone with several replicas and no Redis refuses to render unless allowed',
  async (t) => {
    const deployment = read('templates/deployment.yaml');
    t.match(deployment, /\$isShared := or \.Values\.redis\.url \.Values\.redis\.existingSecret/);
    t.match(
      deployment,
      /\$isSeveral := or \.Values\.autoscaling\.enabled \(gt \(int \.Values\.replicaCount\) 1\)/,
    );
    t.match(
      deployment,
      /if and \$isSeveral \(not \$isShared\) \(not \.Values\.redis\.allowUnshared\) \}\}\n\{\{- fail "[^"]*redis\.url[^"]*redis\.allowUnshared: true" \}\}/,
    );
  },
);

/** Whether deployment.yaml's guard would fail a render of `v` (its three conditions, as helm reads them). */
function isRefused(
  v: Record<string, Record<string, unknown>> & { replicaCount?: unknown },
): boolean {
  const redis = v['redis'] as { url: string; existingSecret: string; allowUnshared: boolean };
  const isShared = redis.url !== '' || redis.existingSecret !== '';
  const isSeveral =
    (v['autoscaling'] as { enabled: boolean }).enabled || Number(v.replicaCount) > 1;
  return isSeveral && !isShared && !redis.allowUnshared;
}

t.test(
  "the chart's defaults render (one replica, no Redis), and two replicas without Redis still do not",
  async (t) => {
    t.equal((values as { replicaCount?: unknown }).replicaCount, 1);
    t.notOk(isRefused(values), 'helm install --set router.host=... renders');
    t.ok(isRefused({ ...values, replicaCount: 2 } as never), 'two replicas without Redis fail');
    t.ok(
      isRefused({ ...values, autoscaling: { ...values['autoscaling'], enabled: true } }),
      'autoscaling without Redis fails',
    );
    t.notOk(
      isRefused({
        ...values,
        replicaCount: 2,
        redis: { ...values['redis'], url: 'redis://r' },
      } as never),
      'two replicas with Redis render',
    );
    t.notOk(
      isRefused({
        ...values,
        replicaCount: 2,
        redis: { ...values['redis'], allowUnshared: true },
      } as never),
      'or with allowUnshared',
    );
  },
);
