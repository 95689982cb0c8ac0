/**
 * Benchmark dispatcher: `npm run bench -- <name> [args...]` loads
 * bench/<name>.bench.ts and runs it. See bench/README.md for the module shape.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** What a bench module's `run` resolves to; printed as the final JSON line. */
export interface BenchResult {
  /** The bench name, equal to the file name without `.bench.ts`. */
  bench: string;
  [metric: string]: string | number;
}

/** The shape every bench/<name>.bench.ts exports. */
export interface BenchModule {
  /**
   * Run the benchmark. Human-readable lines go to stdout as it goes; the
   * returned result becomes the last line of output, as one JSON object.
   * @param args the command-line arguments after the bench name.
   */
  run(args: readonly string[]): Promise<BenchResult>;
}

const dir = fileURLToPath(new URL('.', import.meta.url));

function available(): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => f.slice(0, -'.bench.ts'.length))
    .sort();
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...args] = argv;
  const names = available();
  if (name === undefined || !names.includes(name)) {
    process.stderr.write(
      `${name === undefined ? 'no bench named' : `unknown bench "${name}"`}; usage: npm run bench -- <name>\navailable: ${names.join(', ')}\n`,
    );
    return 2;
  }
  const mod = (await import(pathToFileURL(`${dir}${name}.bench.ts`).href)) as Partial<BenchModule>;
  if (typeof mod.run !== 'function') {
    process.stderr.write(`bench/${name}.bench.ts does not export run(args)\n`);
    return 2;
  }
  const result = await mod.run(args);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
