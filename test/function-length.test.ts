import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import t from 'tap';
import ts from 'typescript';

/** Longer than this, a function is to be split into named parts (data tables included). */
const MAX_LINES = 100;

const ROOT = new URL('..', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

type FunctionNode =
  | ts.FunctionDeclaration
  | ts.FunctionExpression
  | ts.ArrowFunction
  | ts.MethodDeclaration
  | ts.ConstructorDeclaration
  | ts.GetAccessorDeclaration
  | ts.SetAccessorDeclaration;

function isFunction(node: ts.Node): node is FunctionNode {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isFunctionExpression(node) ||
    ts.isArrowFunction(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  );
}

/** A readable name: its own, the variable or property it is assigned to, or where it sits. */
function nameOf(node: FunctionNode, source: ts.SourceFile): string {
  const own = node.name ?? (ts.isConstructorDeclaration(node) ? 'constructor' : undefined);
  if (own !== undefined) {
    const text = typeof own === 'string' ? own : own.getText(source);
    const owner = node.parent;
    const isMember = ts.isClassLike(owner) && owner.name !== undefined;
    return isMember ? `${owner.name.getText(source)}.${text}` : text;
  }
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) {
    return parent.name.getText(source);
  }
  const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  return `function at line ${line}`;
}

/** A function longer than MAX_LINES: `file: name`, and its length. */
interface LongFunction {
  where: string;
  lines: number;
}

/** Every function, method and arrow of `file` longer than MAX_LINES, nested ones included. */
function longFunctions(file: string): LongFunction[] {
  const source = ts.createSourceFile(
    file,
    readFileSync(file, 'utf8'),
    ts.ScriptTarget.Latest,
    true,
  );
  const found: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (isFunction(node)) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      if (lines > MAX_LINES) {
        found.push({ where: `${relative(ROOT, file)}: ${nameOf(node, source)}`, lines });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

t.test('no function in src/ is longer than 100 lines', async (t) => {
  const found = sourceFiles(join(ROOT, 'src')).sort().flatMap(longFunctions);
  t.same(
    found.map(({ where, lines }) => `${where} (${lines} lines)`),
    [],
    'split a long function into named parts (data tables included)',
  );
});

t.test('the measure finds a long function, whatever its form, and names it', async (t) => {
  const dir = t.testdir({
    'long.ts': [
      'export function declared() {',
      ...Array.from({ length: 100 }, (_, i) => `  const a${i} = ${i};`),
      '}',
      'const arrow = () => {',
      ...Array.from({ length: 98 }, (_, i) => `  void ${i};`),
      '};',
      'class Box {',
      '  method() {',
      ...Array.from({ length: 101 }, (_, i) => `    void ${i};`),
      '  }',
      '}',
      'register({ handler: function () {',
      ...Array.from({ length: 101 }, (_, i) => `  void ${i};`),
      '} });',
      'register(() => {',
      ...Array.from({ length: 101 }, (_, i) => `  void ${i};`),
      '});',
      '',
    ].join('\n'),
  });
  const found = longFunctions(join(dir, 'long.ts')).map(
    ({ where, lines }) => `${where.replace(/^.*: /, '')} (${lines} lines)`,
  );
  t.same(found, [
    'declared (102 lines)',
    'Box.method (103 lines)',
    'handler (103 lines)',
    'function at line 411 (103 lines)',
  ]);
});
