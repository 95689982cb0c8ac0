import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  ENV_BINDINGS,
  GUIDE_ENV_BINDINGS,
  GUIDE_IGNORED_VARIABLES,
  GUIDE_TRANSLATED_VARIABLES,
} from '../../src/config/index.js';

const read = (path: string): string =>
  readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const readme = read('README.md');
const configYaml = read('config.yaml');

/** The README's table of the guide's variables: its first column, by variable. */
function guideTable(): Set<string> {
  const section = readme
    .split("### The guide's variables")[1]
    ?.split('\n\n')
    .find((p) => p.startsWith('| variable'));
  const names = new Set<string>();
  for (const row of (section ?? '').split('\n').slice(2)) {
    for (const m of (row.split('|')[1] ?? '').matchAll(/`([A-Z0-9_]+)`/g))
      names.add(m[1] as string);
  }
  return names;
}

t.test("the README's table lists every variable rosgate reads or warns about", async (t) => {
  const table = guideTable();
  const variables = [
    ...ENV_BINDINGS.map((binding) => binding.name),
    ...GUIDE_ENV_BINDINGS.map((binding) => binding.name),
    ...Object.keys(GUIDE_TRANSLATED_VARIABLES),
    ...Object.keys(GUIDE_IGNORED_VARIABLES),
  ];
  t.ok(variables.length > 50);
  t.same(
    variables.filter((name) => !table.has(name)),
    [],
    'every variable has a row',
  );
});

t.test(
  'README and config.yaml say what npm start does with no router, as package.json does it',
  async (t) => {
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    t.match(pkg.scripts['start'], /--simulate-if-unconfigured/, 'npm start fronts the simulator');
    const flat = (text: string): string => text.replace(/\s*\n\s*(?:##\s*)?/g, ' ');
    for (const [name, text] of [
      ['README.md', flat(readme)],
      ['config.yaml', flat(configYaml)],
    ] as const) {
      t.match(
        text,
        /`npm start` (then )?fronts the bundled (RouterOS )?simulator/,
        `${name} says so`,
      );
      t.notMatch(text, /`npm start` refuses/, `${name} never says npm start refuses`);
      t.notMatch(text, /no router is configured and rosgate refuses/, `${name}: no contradiction`);
    }
  },
);
