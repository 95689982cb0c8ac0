import t from 'tap';
import { hasScriptSyntax, hasSqlInjection, hasXss } from '../../src/policy/threat-markers.js';

t.test('script syntax: brackets, braces, separators, variables and :commands', async (t) => {
  for (const value of ['a[b', 'a]', '{x}', 'a;b', '$x', ':execute', 'x :global y', ':PARSE']) {
    t.ok(hasScriptSyntax(value), value);
  }
  for (const value of [
    'plain-name',
    'AA:BB:CC:DD:EE:FF',
    'a:b',
    'eth1.100',
    'pool@site',
    ':executed-not',
  ]) {
    t.notOk(hasScriptSyntax(value), value);
  }
});

t.test('XSS markers: tags that run script, handlers, script URLs', async (t) => {
  const attacks = [
    '<script>alert(1)</script>',
    '< script >',
    '</script>',
    '<img src=x onerror=alert(1)>',
    '" onmouseover="x',
    'JavaScript:alert(1)',
    'vbscript:msgbox',
    'data:text/html;base64,xx',
    '<svg/onload=x>',
    '<iframe src=//x>',
    'width: expression(alert(1))',
  ];
  for (const value of attacks) t.ok(hasXss(value), value);
  const data = [
    '{"plan":"daily","price":5000}',
    'VOUCHER_SYSTEM|5000|2024-01-01|batch',
    'a < b and c > d',
    'once=1, online=yes',
    'see https://example.com/pay?x=1',
    'javascript is fun',
  ];
  for (const value of data) t.notOk(hasXss(value), value);
});

t.test(
  'SQL injection markers: tautologies, unions, stacked queries, comments after a quote',
  async (t) => {
    const attacks = [
      "' OR 1=1",
      "x' or 'a'='a",
      `" or ""="`,
      "1' AND 1=1",
      "x' or name LIKE 'a",
      'UNION SELECT 1',
      'union all select x',
      '; DROP TABLE users',
      ';delete from t',
      '; insert into t',
      '; update t set a=1',
      "admin'--",
      "x' #",
      "x'/*",
      "WAITFOR DELAY '0:0:5'",
      'sleep(5)',
      'pg_sleep(1)',
      'exec xp_cmdshell',
      'information_schema.tables',
    ];
    for (const value of attacks) t.ok(hasSqlInjection(value), value);
    const data = [
      `it's "ok"`,
      'p@$$;w0rd',
      'paid; update later',
      'select the plan you want',
      '{"note":"--"}',
      'VOUCHER_SYSTEM|5000|2024-01-01|batch-7|1hour',
      "Tom's or Jerry's",
    ];
    for (const value of data) t.notOk(hasSqlInjection(value), value);
  },
);

t.test('adversarial 64 KiB values are examined without runaway backtracking', async (t) => {
  // Each of these took seconds with unbounded `\s*` and `[^>]*` repetitions.
  t.notOk(hasXss(`<${' '.repeat(65535)}`));
  t.notOk(hasXss('<img '.repeat(13000)));
  t.notOk(hasSqlInjection(`' or ${'a'.repeat(65530)}`));
  t.notOk(hasSqlInjection('; update '.repeat(7000)));
  t.ok(hasScriptSyntax(`${'a'.repeat(65535)};`));
});
