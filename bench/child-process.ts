/**
 * Processes a benchmark runs beside itself, so that each one's CPU can be read
 * from the kernel instead of guessed from a shared thread:
 *
 * - `simulator`: the bundled RouterOS simulator (the router of every setup);
 * - `relay`: a protocol-blind TCP relay, a bare `net` pipe in front of a port,
 *   the anchor that rosgate's cost is held against;
 * - rosgate itself, started as users start it (`npm start`, the image):
 *   `node dist/main.js --config <file>` with environment variables, its output
 *   discarded. dist/ is built first when it is missing or older than src/:
 *   measuring the TypeScript sources through a loader would count the
 *   loader's helpers (tsx wraps every closure it creates) as rosgate's cost.
 *
 * Each child prints one JSON line `{"port":N}` when it listens (rosgate is
 * probed instead) and stops when its stdin ends or on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startSimulator, type SimulatorOptions } from '../src/simulator/index.js';
import { DIST_MAIN, ensureBuilt } from '../test/fixtures/dist-build.js';
import { freePort } from '../test/fixtures/free-port.js';

export { freePort };

const thisFile = fileURLToPath(import.meta.url);
const projectDir = fileURLToPath(new URL('..', import.meta.url));
const sourceMainFile = join(projectDir, 'src', 'main.ts');
/** Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`; 100 on Linux). */
const TICKS_PER_SECOND = 100;
const START_TIMEOUT_MS = 30_000;

/** A process the bench started: where it listens, its CPU, how to stop it. */
export interface BenchChild {
  readonly pid: number;
  readonly port: number;
  /** User + system CPU seconds the process has used so far. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** The simulator in its own process. */
export function startSimulatorChild(options: SimulatorOptions): Promise<BenchChild> {
  return startChild(['simulator', JSON.stringify(options)]);
}

/** A protocol-blind relay in its own process, in front of `port`. */
export function startRelayChild(port: number): Promise<BenchChild> {
  return startChild(['relay', String(port)]);
}

/**
 * rosgate as `rosgate --config <configFile>` starts, in its own process,
 * with `env` over the bench's environment and `nodeArgs` given to node
 * (`--cpu-prof`): dist/main.js, or src/main.ts through tsx with
 * `isFromSource`; resolves once a client can log in.
 */
export async function startRosgateChild(
  configFile: string,
  env: Readonly<Record<string, string>>,
  port: number,
  isReady: (port: number) => Promise<boolean>,
  nodeArgs: readonly string[] = [],
  isFromSource = false,
): Promise<BenchChild> {
  // From source: the smoke tests, whose coverage of src/ a dist/ child would
  // blur (tap maps its code back onto src/ through dist's source maps).
  const entry = isFromSource ? ['--import', 'tsx', sourceMainFile] : [DIST_MAIN];
  if (!isFromSource) ensureBuilt();
  const args = [...nodeArgs, ...entry, '--config', configFile];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = exitOf(child);
  const deadline = performance.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`rosgate exited with ${child.exitCode}`);
    if (await isReady(port).catch(() => false)) break;
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`rosgate did not answer on ${port} in ${START_TIMEOUT_MS / 1000} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return handle(child, port, exited, () => child.kill('SIGTERM'));
}

/** User + system CPU seconds in a /proc stat file, a process's or a thread's. */
function statCpuSeconds(file: string): number {
  const stat = readFileSync(file, 'latin1');
  // The command name (field 2) may hold spaces; fields are counted after its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** User + system CPU seconds of process `pid`, from /proc/<pid>/stat. */
export function processCpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/**
 * User + system CPU seconds of this process's main thread and of its other
 * threads (workers, V8's helpers, libuv's pool), from /proc/self/task: the
 * split process.cpuUsage() does not give.
 */
export function threadCpuSeconds(): { main: number; others: number } {
  let others = 0;
  for (const task of readdirSync('/proc/self/task')) {
    if (task === String(process.pid)) continue;
    try {
      others += statCpuSeconds(`/proc/self/task/${task}/stat`);
    } catch {
      // A thread that ended since the listing.
    }
  }
  return { main: statCpuSeconds(`/proc/self/task/${process.pid}/stat`), others };
}

async function startChild(args: readonly string[]): Promise<BenchChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', thisFile, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = exitOf(child);
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${args[0]} child did not start`)),
      START_TIMEOUT_MS,
    );
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} child exited with ${code}`)));
  });
  lines.close();
  return handle(child, port, exited, () => child.stdin?.end());
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function handle(
  child: ChildProcess,
  port: number,
  exited: Promise<void>,
  askToStop: () => void,
): BenchChild {
  const pid = child.pid as number;
  return {
    pid,
    port,
    cpuSeconds: () => processCpuSeconds(pid),
    async stop() {
      if (child.exitCode !== null) return;
      askToStop();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// -- the child side -------------------------------------------------------------------

function stopWhenStdinEnds(close: () => Promise<void>): void {
  process.stdin.resume();
  process.stdin.once('end', () => void close().then(() => process.exit(0)));
}

async function serveSimulator(options: SimulatorOptions): Promise<void> {
  const sim = await startSimulator(options);
  process.stdout.write(`${JSON.stringify({ port: sim.port })}\n`);
  stopWhenStdinEnds(() => sim.close());
}

/** The relay: bytes in, bytes out, nothing decoded; both sides closed together. */
async function serveRelay(targetPort: number): Promise<void> {
  const server = net.createServer((client) => {
    const router = net.connect({ host: '127.0.0.1', port: targetPort });
    client.setNoDelay(true);
    router.setNoDelay(true);
    client.pipe(router).on('error', () => client.destroy());
    router.pipe(client).on('error', () => router.destroy());
    client.on('close', () => router.destroy());
    router.on('close', () => client.destroy());
    client.on('error', () => router.destroy());
    router.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as net.AddressInfo).port })}\n`);
  stopWhenStdinEnds(() => new Promise((resolve) => server.close(() => resolve())));
}

if (process.argv[1] === thisFile) {
  const [kind, arg] = process.argv.slice(2);
  if (kind === 'simulator') await serveSimulator(JSON.parse(arg as string) as SimulatorOptions);
  else if (kind === 'relay') await serveRelay(Number(arg));
  else throw new Error(`unknown child kind ${String(kind)}`);
}
