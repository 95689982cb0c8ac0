/**
 * The billing mix through a wired rosgate, for the benches that compare two
 * settings of the whole app (admin: scraping or not; audit: on or off).
 *
 * The mix is the proxy and policy benches': 45% identity prints, 35%
 * lookups of one voucher by name, 12% PPP active prints, 7.5% voucher adds
 * (each followed by its remove), 0.5% prints of every voucher. Each client
 * is one connection sending one untagged command at a time, closed loop.
 */
import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App, type RouterRuntime } from '../src/app.js';
import { validateConfig } from '../src/config/index.js';
import { createLogger } from '../src/logger.js';
import { encodeSentence } from '../src/protocol/index.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { Prng } from '../src/simulator/prng.js';
import type { RawClient } from '../test/fixtures/raw-client.js';
import { billingClient, names, sendCommand } from './billing-client.js';
import { threadCpuSeconds } from './child-process.js';

export const USER = 'admin';
export const PASSWORD = 'secret';
const HOTSPOT_USERS = 500;
const COMMAND_TIMEOUT_MS = 10_000;

/** The next command of one client's mix, from a seeded PRNG. */
export class Mix {
  readonly #random: Prng;
  readonly #id: number;
  readonly #users: readonly string[];
  /** Vouchers added by every mix in this process: names never repeat. */
  static #added = 0;

  constructor(id: number, users: readonly string[]) {
    this.#id = id;
    this.#users = users;
    this.#random = new Prng(0xb111 + id);
  }

  /** The next command; the remove of `removeId` when the last command was an add. */
  next(removeId: string | undefined): string[] {
    if (removeId !== undefined) return ['/ip/hotspot/user/remove', `=.id=${removeId}`];
    const r = this.#random.next();
    if (r < 0.45) return ['/system/identity/print'];
    if (r < 0.8) {
      const user = this.#users[Math.floor(this.#random.next() * this.#users.length)] as string;
      return ['/ip/hotspot/user/print', `?name=${user}`, '=.proplist=.id,name,uptime,comment'];
    }
    if (r < 0.92) return ['/ppp/active/print'];
    if (r < 0.995) {
      const serial = Mix.#added++;
      return [
        '/ip/hotspot/user/add',
        `=name=mix-${this.#id}-${serial}`,
        `=password=p$;'${serial}`,
        '=profile=default',
        '=limit-uptime=1d',
        `=comment=VOUCHER_SYSTEM|5000|2024-01-01|batch|{"seller":"bench ${this.#id}"}`,
      ];
    }
    return ['/ip/hotspot/user/print'];
  }
}

/** The simulator the setups share: 500 hotspot users, room for every session. */
export function startBenchSimulator(): Promise<Simulator> {
  return startSimulator({
    user: USER,
    password: PASSWORD,
    hotspotUsers: HOTSPOT_USERS,
    maxSessions: 60,
  });
}

/** A wired rosgate in front of `simPort`, with `config` over bench defaults. */
export interface BenchApp {
  readonly app: App;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * rosgate as `createApp` builds it, logging nothing, its audit trail (when
 * on) in a temporary folder, and without the rate limit (it would cap every
 * setup alike and hide what is compared).
 */
export async function startBenchApp(
  simPort: number,
  clients: number,
  config: Record<string, unknown> = {},
): Promise<BenchApp> {
  const auditDir = mkdtempSync(join(tmpdir(), 'rosgate-bench-audit-'));
  const { config: validated } = validateConfig({
    routers: [
      {
        host: '127.0.0.1',
        port: simPort,
        username: USER,
        password: PASSWORD,
        listen: { host: '127.0.0.1', port: 0 },
      },
    ],
    limits: { maxClients: Math.max(1000, clients), maxClientsPerAddress: Math.max(100, clients) },
    log: { level: 'silent' },
    flow: { rateLimit: { enabled: false } },
    monitoring: { host: '127.0.0.1', port: 0 },
    ...config,
    audit: { dir: auditDir, ...(config['audit'] as Record<string, unknown> | undefined) },
  });
  const app = createApp(validated, createLogger('silent', process.stdout));
  await app.start();
  return {
    app,
    port: (app.routers[0] as RouterRuntime).port,
    async close() {
      await app.stop(0);
      rmSync(auditDir, { recursive: true, force: true });
    },
  };
}

/** `count` logged-in clients of `port`. */
export async function connectClients(port: number, count: number): Promise<RawClient[]> {
  const clients: RawClient[] = [];
  for (let i = 0; i < count; i++)
    clients.push(await billingClient(port, USER, PASSWORD, COMMAND_TIMEOUT_MS));
  return clients;
}

/** The names of the hotspot users the lookups ask for. */
export async function hotspotUsers(client: RawClient): Promise<string[]> {
  const users = await names(client, ['/ip/hotspot/user/print', '=.proplist=name']);
  if (users.length < HOTSPOT_USERS)
    throw new Error(`expected ${HOTSPOT_USERS} hotspot users, got ${users.length}`);
  return users;
}

/** The mix's writes: a voucher's add and its remove. */
const WRITES: ReadonlySet<string> = new Set(['/ip/hotspot/user/add', '/ip/hotspot/user/remove']);

/**
 * Runs the mix on every client for `seconds`; resolves with the commands
 * answered. Each command's latency in ms is pushed to `latenciesMs` if
 * given, and each write's (the adds and removes) to `writeLatenciesMs` too.
 */
export async function billingLoop(
  clients: readonly RawClient[],
  users: readonly string[],
  seconds: number,
  latenciesMs?: number[],
  writeLatenciesMs?: number[],
): Promise<number> {
  let commands = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    clients.map(async (client, i) => {
      const mix = new Mix(i, users);
      let removeId: string | undefined;
      while (performance.now() < end) {
        const words = mix.next(removeId);
        const started = performance.now();
        const reply = await sendCommand(client, encodeSentence(words));
        const ms = performance.now() - started;
        latenciesMs?.push(ms);
        if (WRITES.has(words[0] as string)) writeLatenciesMs?.push(ms);
        if (reply.trap !== undefined) throw new Error(`${words[0]}: ${reply.trap}`);
        removeId = words[0] === '/ip/hotspot/user/add' ? reply.ret : undefined;
        commands++;
      }
      // An add at the end of the phase is removed too (not counted): left
      // behind, vouchers would pile up phase after phase, and the full prints
      // of later phases would cost more than the earlier ones'.
      if (removeId !== undefined) await sendCommand(client, encodeSentence(mix.next(removeId)));
    }),
  );
  return commands;
}

/** One setup compared by {@link compareSetups}. */
export interface Setup {
  readonly name: string;
  readonly clients: readonly RawClient[];
  /** Started before the setup's timed phase; what it returns stops it after. */
  readonly during?: () => () => void;
}

/** What {@link compareSetups} found for one setup, over its timed phases. */
export interface SetupFigures {
  readonly perSecond: number;
  /** CPU µs per command of this process's main thread (clients, rosgate, simulator). */
  readonly mainCpuMicros: number;
  /** CPU µs per command of its other threads (an audit writer's, V8's, libuv's). */
  readonly otherCpuMicros: number;
}

/**
 * Runs the mix on each setup in turn, `rounds` times (the order reversed
 * every other round, so a drift of the machine weighs on both alike), each
 * after a short warm-up, and the whole after one warm-up phase; resolves
 * with each setup's commands per second and CPU per command over the
 * rounds. The CPU figures hold steadier than throughput on a busy machine.
 */
export async function compareSetups(
  setups: readonly Setup[],
  users: readonly string[],
  seconds: number,
  rounds: number,
): Promise<SetupFigures[]> {
  for (const setup of setups) await billingLoop(setup.clients, users, seconds / 2);
  const totals = new Map(setups.map((setup) => [setup, { commands: 0, main: 0, others: 0 }]));
  for (let round = 0; round < rounds; round++) {
    for (const setup of round % 2 === 0 ? setups : [...setups].reverse()) {
      await billingLoop(setup.clients, users, Math.min(1, seconds / 2));
      const stop = setup.during?.();
      const before = threadCpuSeconds();
      const commands = await billingLoop(setup.clients, users, seconds);
      const after = threadCpuSeconds();
      stop?.();
      const total = totals.get(setup) as { commands: number; main: number; others: number };
      total.commands += commands;
      total.main += after.main - before.main;
      total.others += after.others - before.others;
      console.log(
        `  round ${round + 1} ${setup.name.padEnd(20)} ${Math.round(commands / seconds)} cmd/s`,
      );
    }
  }
  return setups.map((setup) => {
    const { commands, main, others } = totals.get(setup) as {
      commands: number;
      main: number;
      others: number;
    };
    return {
      perSecond: commands / (seconds * rounds),
      mainCpuMicros: (main / commands) * 1e6,
      otherCpuMicros: (others / commands) * 1e6,
    };
  });
}
