import t from 'tap';
import { readFileSync } from 'node:fs';
import { validate, ValidationSeverity, type ValidatorSettings } from 'dockerfile-utils';
import { parseStages, type Stage } from '../fixtures/pack-dockerfile.js';

const root = new URL('../../', import.meta.url);
const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');
const dockerignore = readFileSync(new URL('.dockerignore', root), 'utf8');
const stages = parseStages(dockerfile);
const runtime = stages.at(-1) as Stage;

/** Every check dockerfile-utils can make, with its warnings raised to errors. */
const STRICT: ValidatorSettings = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

function argsOf(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

t.test('the Dockerfile passes dockerfile-utils with every check raised to an error', async (t) => {
  t.same(validate(dockerfile, STRICT), []);
});

t.test('the linter does flag a broken Dockerfile, so a clean result means something', async (t) => {
  const broken = dockerfile.replace('EXPOSE 8728 8729 9728', 'EXPOSE 8728/tcpx');
  t.not(broken, dockerfile);
  t.ok(validate(broken, STRICT).length > 0);
});

t.test('the image builds in one stage and runs in another on Node 20', async (t) => {
  t.ok(stages.length >= 2);
  t.match(dockerfile, /^ARG NODE_IMAGE=node:20-(bookworm-slim|alpine)$/m);
  t.same(
    stages.map((s) => s.from),
    stages.map(() => '${NODE_IMAGE}'),
  );
  const build = stages.find((s) => s.name === 'build') as Stage;
  const runs = argsOf(build, 'RUN').join(' && ');
  t.match(runs, /npm ci\b/);
  t.match(runs, /npm run build\b/);
  t.match(runs, /npm prune --omit=dev\b/);
});

t.test(
  'the runtime stage takes only the pruned dependencies, the build and config.yaml',
  async (t) => {
    const copies = argsOf(runtime, 'COPY');
    t.same(copies, [
      '--from=build /src/package.json ./',
      '--from=build /src/node_modules ./node_modules',
      '--from=build /src/dist ./dist',
      'config.yaml /etc/rosgate/config.yaml',
    ]);
    t.same(
      argsOf(runtime, 'ENV')
        .join(' ')
        .match(/NODE_ENV=\S+/)?.[0],
      'NODE_ENV=production',
    );
  },
);

t.test('the image runs as a numeric non-root user, so runAsNonRoot can check it', async (t) => {
  const users = argsOf(runtime, 'USER');
  t.equal(users.length, 1);
  const [uid] = String(users[0]).split(':');
  t.match(uid, /^\d+$/);
  t.not(Number(uid), 0);
});

t.test(
  'node runs rosgate directly in exec form, never npm start, with the shipped config',
  async (t) => {
    const [entrypoint] = argsOf(runtime, 'ENTRYPOINT');
    const [cmd] = argsOf(runtime, 'CMD');
    t.same(JSON.parse(String(entrypoint)), ['node', 'dist/main.js']);
    t.same(JSON.parse(String(cmd)), ['--config', '/etc/rosgate/config.yaml']);
    t.notMatch(dockerfile, /npm start/);
    t.same(argsOf(runtime, 'STOPSIGNAL'), ['SIGTERM']);
  },
);

t.test('the image exposes the API, API-SSL and admin ports', async (t) => {
  t.same(argsOf(runtime, 'EXPOSE').join(' ').split(' ').sort(), ['8728', '8729', '9728']);
});

t.test('the image carries the OCI labels', async (t) => {
  const labels = argsOf(runtime, 'LABEL').join(' ');
  for (const key of ['title', 'description', 'version', 'revision', 'licenses'])
    t.match(labels, `org.opencontainers.image.${key}=`);
});

t.test('.dockerignore lets in exactly what the build copies from the context', async (t) => {
  const lines = dockerignore.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  t.equal(lines[0], '*', 'everything is excluded first');
  const allowed = lines.slice(1).map((l) => l.replace(/^!/, '').replace(/\/$/, ''));
  const copied = stages
    .flatMap((s) => argsOf(s, 'COPY'))
    .filter((args) => !args.startsWith('--from'))
    .flatMap((args) => args.split(' ').slice(0, -1))
    .map((source) => source.replace(/^\.\//, '').replace(/\/$/, ''));
  t.same([...new Set(copied)].sort(), [...allowed].sort());
});

t.test(
  'the image docs say a read-only root needs a writable volume on the audit folder',
  async (t) => {
    const docs = readFileSync(new URL('helm/rosgate/README.md', root), 'utf8').replace(/\s+/g, ' ');
    const [auditDir] = argsOf(runtime, 'RUN')
      .join(' ')
      .match(/\/app\/logs\/audit/) ?? [''];
    t.equal(auditDir, '/app/logs/audit', 'the image makes the audit folder');
    t.match(
      docs,
      /With `--read-only` that volume is needed: `-v rosgate-audit:\/app\/logs\/audit`/,
    );
    t.notMatch(docs, /\(`--read-only` works\)/, 'not without a volume');
  },
);
