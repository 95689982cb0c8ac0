import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The production image installs `dependencies` only: a package there that
// src/ never imports is dead weight (and attack surface) in every image.

const projectDir = fileURLToPath(new URL('../../', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every package src/ imports (`from 'pkg'`, `from 'pkg/sub'`, `import('pkg')`). */
function importedPackages(): Set<string> {
  const out = new Set<string>();
  // Import statements only (at a line's start), not code inside a string (the dashboard's script).
  const pattern = /^(?:import|export)\b[^;]*?(?:from\s+|import\s*\(\s*|import\s+)'([^'.][^']*)'/gm;
  for (const file of sourceFiles(join(projectDir, 'src'))) {
    for (const match of readFileSync(file, 'utf8').matchAll(pattern)) {
      const spec = match[1] as string;
      if (spec.startsWith('node:')) continue;
      const parts = spec.split('/');
      out.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string));
    }
  }
  return out;
}

const pkg = JSON.parse(readFileSync(join(projectDir, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(projectDir, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dependencies?: Record<string, string>; dev?: boolean }>;
};

t.test('every production dependency is imported by src/', async (t) => {
  const imported = importedPackages();
  for (const name of Object.keys(pkg.dependencies)) {
    t.ok(imported.has(name), `${name} is imported by src/ (else it belongs in devDependencies)`);
  }
});

t.test('every package src/ imports is a production dependency', async (t) => {
  for (const name of importedPackages()) {
    t.ok(Object.hasOwn(pkg.dependencies, name), `${name} is in dependencies`);
  }
});

t.test(
  'node-routeros, a test and bench client, is a dev dependency in the lock file too',
  async (t) => {
    t.ok(Object.hasOwn(pkg.devDependencies, 'node-routeros'));
    const root = lock.packages[''] as { dependencies?: Record<string, string> };
    t.notOk(Object.hasOwn(root.dependencies ?? {}, 'node-routeros'));
    t.equal(lock.packages['node_modules/node-routeros']?.dev, true);
  },
);
