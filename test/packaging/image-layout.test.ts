import t from 'tap';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { RouterOSAPI } from 'node-routeros';
import { parsePrometheus, sampleValue } from '../fixtures/admin-prom-parse.js';
import { NodeProcess, cleanEnv, installTarball, packProject } from '../fixtures/pack-install.js';

// The image cannot be built here (no container engine), so this builds what
// its runtime stage holds: the packed package with production dependencies
// only, in an empty folder. A runtime file left out of the package or a
// dependency listed as a devDependency fails here.

const projectDir = fileURLToPath(new URL('../../', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'rosgate-pack-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

/** The project to pack: itself once `npm run build` has run (CI), else a copy built here. */
async function packable(): Promise<string> {
  if (existsSync(join(projectDir, 'dist', 'main.js'))) return projectDir;
  const stage = join(work, 'stage');
  const pkg = JSON.parse(readFileSync(join(projectDir, 'package.json'), 'utf8'));
  for (const entry of ['package.json', 'README.md', ...pkg.files].filter((e) => e !== 'dist'))
    cpSync(join(projectDir, entry), join(stage, entry), { recursive: true });
  const tsc = join(projectDir, 'node_modules', 'typescript', 'bin', 'tsc');
  await promisify(execFile)(process.execPath, [
    tsc,
    '-p',
    join(projectDir, 'tsconfig.build.json'),
    '--outDir',
    join(stage, 'dist'),
  ]);
  return stage;
}

t.test('the packed package runs from a production-only install against a router', async (t) => {
  const tarball = await packProject(await packable(), work);
  const appDir = join(work, 'app');
  mkdirSync(appDir);
  await installTarball(tarball, appDir);
  const installed = join(appDir, 'node_modules', 'rosgate');
  const main = join(installed, 'dist', 'main.js');
  t.notOk(existsSync(join(appDir, 'node_modules', 'typescript')), 'no devDependency installed');

  const simulator = new NodeProcess(
    [
      main,
      'simulate',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--user',
      'admin',
      '--password',
      'secret',
    ],
    cleanEnv(),
    appDir,
  );
  t.teardown(() => simulator.child.kill('SIGKILL'));
  const [, simulatorPort] = await simulator.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 10_000);

  // As the image runs it: the shipped config.yaml, the router from the
  // environment; the audit trail in the test's folder, never the checkout.
  const auditDir = join(work, 'audit');
  const proxy = new NodeProcess(
    [main, '--config', join(installed, 'config.yaml')],
    cleanEnv({
      MIKROTIK_HOST: '127.0.0.1',
      MIKROTIK_PORT: String(simulatorPort),
      MIKROTIK_USERNAME: 'admin',
      MIKROTIK_PASSWORD: 'secret',
      PROXY_HOST: '127.0.0.1',
      PROXY_PORT: '0',
      MONITORING_PORT: '0',
      AUDIT_LOG_DIR: auditDir,
    }),
    appDir,
  );
  t.teardown(() => proxy.child.kill('SIGKILL'));
  const [, proxyPort] = await proxy.waitFor(
    /"port":(\d+)[^\n]*"msg":"listening for RouterOS API clients"/,
    10_000,
  );

  const api = new RouterOSAPI({
    host: '127.0.0.1',
    port: Number(proxyPort),
    user: 'admin',
    password: 'secret',
    timeout: 5,
  });
  await api.connect();
  const identity = await api.write('/system/identity/print');
  await api.close();
  t.same(identity, [{ name: 'MikroTik' }]);

  // The admin port of the installed package counts that traffic.
  const [, adminPort] = await proxy.waitFor(
    /"port":(\d+)[^\n]*"msg":"admin port listening on \/monitoring"/,
    1_000,
  );
  const scrape = await fetch(`http://127.0.0.1:${adminPort}/monitoring/metrics`);
  t.equal(scrape.status, 200);
  const metrics = parsePrometheus(await scrape.text());
  const router = { router: 'default' };
  t.equal(
    sampleValue(metrics, 'mikrotik_requests_total', {
      ...router,
      verb_class: 'read',
      outcome: 'ok',
    }),
    1,
    'the print is counted',
  );
  t.equal(sampleValue(metrics, 'rosgate_logins_total', { ...router, result: 'ok' }), 1);
  t.equal(sampleValue(metrics, 'rosgate_router_up', router), 1);
  t.equal(sampleValue(metrics, 'rosgate_config_last_reload_successful'), 1);
  t.ok(metrics.get('process_resident_memory_bytes')?.samples.length, 'process metrics too');

  t.equal(await proxy.stop('SIGTERM', 15_000), 0, 'SIGTERM ends rosgate cleanly');
  t.equal(await simulator.stop('SIGTERM', 5_000), 0, 'and the simulator');
  t.notMatch(proxy.output, /"level":(50|60)/, 'no error logged');
  t.ok(existsSync(join(auditDir, 'head.json')), 'the audit trail went where AUDIT_LOG_DIR says');
});
