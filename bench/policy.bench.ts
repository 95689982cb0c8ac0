/**
 * Policy benchmark: the billing mix through rosgate with the shipped policy
 * in `enforce` mode (access rules, input rules, script, XSS and SQL
 * injection checks) against rosgate with a policy that checks nothing (one
 * allow-all rule, every check off), in one run.
 *
 * C clients (default 50), each one connection sending one untagged command
 * at a time as billing software does, closed loop, with the mix of the proxy
 * bench: identity prints, lookups of single vouchers by name, PPP active
 * prints, voucher adds (VOUCHER_SYSTEM comment, a password with `$ ; '`)
 * each followed by its remove, and now and then a print of every voucher.
 * The two configurations take turns for `--rounds` rounds (default 2) after
 * a warm-up each; the reported figures are the sums over the rounds.
 *
 * Then the policy's own cost: the same mix handed straight to the stage in
 * front of a handler that answers at once, in ns per command.
 *
 * The simulator runs in-process (clients, rosgate and simulator share the
 * thread, so the policy's cost shows one for one).
 *
 * Run: npm run bench -- policy [--clients N] [--seconds N] [--rounds N]
 */
import net from 'node:net';
import { validateConfig } from '../src/config/index.js';
import { SETTLED, describeCommand, type CommandHandler } from '../src/pipeline.js';
import { createPolicyStage } from '../src/policy/index.js';
import { Decoder, Sentence, encodeSentence } from '../src/protocol/index.js';
import { startSimulator } from '../src/simulator/index.js';
import { Prng } from '../src/simulator/prng.js';
import type { BenchResult } from './run.js';
import { numberArg } from './args.js';
import { startBenchApp } from './billing-mix.js';

const USER = 'admin';
const PASSWORD = 'secret';
const HOTSPOT_USERS = 500;
const COMMAND_TIMEOUT_MS = 10_000;

/** A policy that checks nothing: the baseline. */
const NO_POLICY = {
  roles: { billing: [{ name: 'allow-all', action: 'allow' }] },
  input: { enabled: false },
  attackDetection: false,
  xss: { enabled: false },
  sqlInjection: { enabled: false },
};

interface Options {
  clients: number;
  seconds: number;
  rounds: number;
}

// -- a client: one untagged command at a time --------------------------------------

interface Reply {
  trap: string | undefined;
  ret: string | undefined;
}

class Client {
  readonly #socket: net.Socket;
  #waiting: ((reply: Reply | Error) => void) | undefined;
  #trap: string | undefined;
  /** `=name=` of the rows of the command running now. */
  names: string[] = [];

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    const decoder = new Decoder();
    socket.on('data', (chunk: Buffer) => decoder.push(chunk, (s) => this.#onSentence(s)));
    socket.on('close', () => this.#waiting?.(new Error('connection closed')));
  }

  static async connect(port: number): Promise<Client> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    const client = new Client(socket);
    const login = await client.call(
      encodeSentence(['/login', `=name=${USER}`, `=password=${PASSWORD}`]),
    );
    if (login.trap !== undefined) throw new Error(`login refused: ${login.trap}`);
    return client;
  }

  call(sentence: Buffer): Promise<Reply> {
    this.names = [];
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('command timed out')), COMMAND_TIMEOUT_MS);
      this.#waiting = (reply) => {
        clearTimeout(timer);
        this.#waiting = undefined;
        if (reply instanceof Error) reject(reply);
        else resolve(reply);
      };
      this.#socket.write(sentence);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #onSentence(sentence: Sentence): void {
    if (sentence.command === '!re') this.names.push(sentence.attributeString('name') ?? '');
    if (sentence.command === '!trap') this.#trap ??= sentence.attributeString('message') ?? 'trap';
    if (sentence.command !== '!done') return;
    const trap = this.#trap;
    this.#trap = undefined;
    this.#waiting?.({
      trap,
      ret: trap === undefined ? sentence.attributeString('ret') : undefined,
    });
  }
}

// -- the billing mix ------------------------------------------------------------------

/** The mix as sentences, chosen by a seeded PRNG; an add is always followed by its remove. */
class Mix {
  readonly #random: Prng;
  readonly #id: number;
  readonly #users: readonly string[];
  /** Vouchers added by every mix in this process: names never repeat. */
  static #added = 0;

  constructor(id: number, users: readonly string[]) {
    this.#id = id;
    this.#users = users;
    this.#random = new Prng(0x9011c + id);
  }

  /** The next command's words; `removeId` when the last command was an add. */
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
      const name = `bench-${this.#id}-${serial}`;
      return [
        '/ip/hotspot/user/add',
        `=name=${name}`,
        `=password=p$;'${serial}`,
        '=profile=default',
        '=limit-uptime=1d',
        '=limit-bytes-total=500M',
        `=comment=VOUCHER_SYSTEM|5000|2024-01-01|batch|{"seller":"bench ${this.#id}"}`,
      ];
    }
    return ['/ip/hotspot/user/print'];
  }
}

async function closedLoop(
  clients: readonly Client[],
  users: readonly string[],
  seconds: number,
): Promise<number> {
  let commands = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    clients.map(async (client, i) => {
      const mix = new Mix(i, users);
      let removeId: string | undefined;
      while (performance.now() < end) {
        const words = mix.next(removeId);
        const reply = await client.call(encodeSentence(words));
        if (reply.trap !== undefined) throw new Error(`${words[0]}: ${reply.trap}`);
        removeId = words[0] === '/ip/hotspot/user/add' ? reply.ret : undefined;
        commands++;
      }
    }),
  );
  return commands;
}

// -- setup and run ----------------------------------------------------------------------

/**
 * A wired rosgate with `policy` (bench/billing-mix.ts: its admin port and
 * audit trail out of the way, the rate limit off).
 */
function startRosgate(simPort: number, policy: Record<string, unknown>, clients: number) {
  return startBenchApp(simPort, clients, { policy });
}

/** ns per command for the stage alone, in front of a handler that answers at once. */
function stageCost(users: readonly string[], commands: number): number {
  const { config } = validateConfig({ routers: [{ host: '127.0.0.1', password: 'x' }] });
  const policy = createPolicyStage({ config: config.policy });
  const inner: CommandHandler = {
    handle(_context, sink) {
      sink.done(DONE);
      return SETTLED;
    },
  };
  const handler = policy.stage(inner);
  const mix = new Mix(0, users);
  const sentences = Array.from({ length: 1000 }, () => Sentence.from(mix.next(undefined)));
  const sink = {
    reply: () => undefined,
    done: () => undefined,
    refuse: (err: Error) => {
      throw err;
    },
  };
  const run = (count: number): void => {
    for (let i = 0; i < count; i++) {
      const sentence = sentences[i % sentences.length] as Sentence;
      handler.handle(
        {
          router: 'default',
          user: 'panel',
          clientId: 1,
          address: '127.0.0.1',
          ...describeCommand(sentence),
          receivedAt: 0,
          notes: {},
        },
        sink,
      );
    }
  };
  run(commands / 10);
  const start = process.hrtime.bigint();
  run(commands);
  return Number(process.hrtime.bigint() - start) / commands;
}

const DONE = Sentence.from(['!done']);

export async function run(args: readonly string[]): Promise<BenchResult> {
  const options: Options = {
    clients: Math.round(numberArg(args, 'clients', 50, 1, 500)),
    seconds: numberArg(args, 'seconds', 5, 0.5, 60),
    rounds: Math.round(numberArg(args, 'rounds', 2, 1, 10)),
  };
  const sim = await startSimulator({
    user: USER,
    password: PASSWORD,
    hotspotUsers: HOTSPOT_USERS,
    maxSessions: 50,
  });
  const setups = [
    { name: 'no policy', ...(await startRosgate(sim.port, NO_POLICY, options.clients)) },
    { name: 'shipped policy', ...(await startRosgate(sim.port, {}, options.clients)) },
  ];
  const totals = [0, 0];
  const clients: Client[][] = [];
  try {
    for (const setup of setups) {
      const list: Client[] = [];
      for (let i = 0; i < options.clients; i++) list.push(await Client.connect(setup.port));
      clients.push(list);
    }
    const first = clients[0]?.[0] as Client;
    await first.call(encodeSentence(['/ip/hotspot/user/print', '=.proplist=name']));
    const users = first.names;
    if (users.length < HOTSPOT_USERS)
      throw new Error(`expected ${HOTSPOT_USERS} hotspot users, got ${users.length}`);
    console.log(
      `policy: ${options.clients} clients, billing mix, ${options.rounds} rounds of ${options.seconds}s per setup, ` +
        `clients, rosgate and simulator on one thread (node ${process.version})`,
    );
    for (let round = 0; round < options.rounds; round++) {
      for (const [i, setup] of setups.entries()) {
        await closedLoop(clients[i] as Client[], users, Math.min(1, options.seconds / 2));
        const commands = await closedLoop(clients[i] as Client[], users, options.seconds);
        totals[i] = (totals[i] as number) + commands;
        console.log(
          `  round ${round + 1} ${setup.name.padEnd(15)} ${Math.round(commands / options.seconds)} cmd/s`,
        );
      }
    }
    const seconds = options.seconds * options.rounds;
    const [none, shipped] = totals.map((n) => n / seconds) as [number, number];
    const overheadRatio = shipped / none;
    const nsPerCommand = stageCost(users, 200_000);
    console.log(
      `  shipped/none ${(overheadRatio * 100).toFixed(1)}% (goal >= 95%: ${overheadRatio >= 0.95 ? 'met' : 'MISSED'}); ` +
        `the stage alone: ${nsPerCommand.toFixed(0)} ns per command`,
    );
    return {
      bench: 'policy',
      clients: options.clients,
      seconds: options.seconds,
      rounds: options.rounds,
      noPolicyCmdPerSec: Math.round(none),
      shippedPolicyCmdPerSec: Math.round(shipped),
      overheadRatio: Number(overheadRatio.toFixed(3)),
      stageNsPerCommand: Math.round(nsPerCommand),
      goalMet: overheadRatio >= 0.95 ? 'yes' : 'no',
    };
  } finally {
    for (const list of clients) for (const client of list) client.close();
    for (const setup of setups) await setup.close();
    await sim.close();
  }
}
