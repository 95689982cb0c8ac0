import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Every .ts file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The src files a file imports (type-only imports included: they tie the files together too). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/^(?:import|export)\b[^;]*?from\s+'(\.[^']+)'/gms)];
  return specifiers.map((m) => resolve(dirname(file), (m[1] as string).replace(/\.js$/, '.ts')));
}

/** The first import circle found, as a list of files, or undefined. */
function findCircle(graph: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === 'done') return undefined;
    if (state.get(file) === 'open') return [...stack.slice(stack.indexOf(file)), file];
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      const circle = visit(next);
      if (circle !== undefined) return circle;
    }
    stack.pop();
    state.set(file, 'done');
    return undefined;
  };
  for (const file of graph.keys()) {
    const circle = visit(file);
    if (circle !== undefined) return circle;
  }
  return undefined;
}

t.test('the circle finder finds a loop through three files and none in a chain', (t) => {
  t.same(
    findCircle(
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', ['a']],
      ]),
    ),
    ['a', 'b', 'c', 'a'],
  );
  t.equal(
    findCircle(
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', []],
      ]),
    ),
    undefined,
  );
  t.end();
});

t.test('no two files of src/ import each other, directly or around a loop', (t) => {
  const files = sources(SRC);
  t.ok(files.length > 50, 'the whole of src/ is read');
  const graph = new Map(files.map((file) => [file, importsOf(file)]));
  t.ok(
    (graph.get(join(SRC, 'config/validate.ts')) ?? []).includes(join(SRC, 'config/schema.ts')),
    'imports are found',
  );
  const circle = findCircle(graph);
  t.equal(circle?.map((file) => relative(SRC, file)).join(' -> '), undefined);
  t.end();
});
