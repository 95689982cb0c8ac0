import type { Sentence, WordInput } from '../protocol/index.js';
import { rowWords, type Command } from './command.js';
import {
  checkArguments,
  markStream,
  parseDuration,
  splitList,
  type SimulatorContext,
} from './context.js';
import { TrapError, type Row } from './database.js';

/**
 * The streaming tools (§5): `/interface/monitor-traffic`, `/ping`,
 * `/tool/torch`. One router second lasts `streamIntervalMs`; rows of a round
 * go out together, as soon as the round is produced.
 */
export const STREAM_COMMANDS = [
  '/interface/monitor-traffic',
  '/ping',
  '/tool/ping',
  '/tool/torch',
] as const;
export type StreamCommand = (typeof STREAM_COMMANDS)[number];

const MONITOR_ARGUMENTS = new Set(['interface', 'once', 'aggregate', '.proplist']);
const PING_ARGUMENTS = new Set([
  'address',
  'count',
  'interval',
  'size',
  'ttl',
  'src-address',
  'interface',
  'routing-table',
  'do-not-fragment',
]);
const TORCH_ARGUMENTS = new Set([
  'interface',
  'duration',
  'src-address',
  'dst-address',
  'port',
  'protocol',
  'ip-protocol',
  'mac-protocol',
  'vlan-id',
  'dscp',
  'freeze-frame-interval',
  'src-address6',
  'dst-address6',
  '.proplist',
]);

function row(values: Record<string, string>): Row {
  const out: Row = new Map();
  for (const [name, value] of Object.entries(values)) out.set(name, Buffer.from(value, 'latin1'));
  return out;
}

function required(args: Map<string, Buffer>, name: string): Buffer {
  const value = args.get(name);
  if (value === undefined || value.length === 0)
    throw new TrapError(`missing value(s) of argument(s) ${name}`, 1);
  return value;
}

function positiveSeconds(args: Map<string, Buffer>, name: string, fallback: number): number {
  const value = args.get(name);
  if (value === undefined) return fallback;
  const seconds = parseDuration(value.toString('latin1'));
  if (seconds === undefined || seconds <= 0)
    throw new TrapError(`input does not match any value of ${name}`, 1);
  return seconds;
}

/** Interface names that exist in `/interface`, or a trap. */
function interfacesOf(ctx: SimulatorContext, value: Buffer): string[] {
  const names = splitList(value);
  const menu = ctx.db.require('/interface');
  for (const name of names) {
    if (menu.findBy('name', name) === undefined)
      throw new TrapError('input does not match any value of interface', 1);
  }
  return names;
}

/** Run one of STREAM_COMMANDS. */
export async function runStreamCommand(
  ctx: SimulatorContext,
  command: Command,
  path: StreamCommand,
  sentence: Sentence,
): Promise<void> {
  const args = sentence.attributes();
  try {
    if (path === '/interface/monitor-traffic') await monitorTraffic(ctx, command, args);
    else if (path === '/tool/torch') await torch(ctx, command, args);
    else await ping(ctx, command, args);
  } catch (err) {
    /* c8 ignore next -- only TrapErrors are thrown on purpose */
    if (!(err instanceof TrapError)) throw err;
    command.fail(err.message, err.category);
  }
}

/** Repeat `round` every `periodMs` until it returns false or the command ends. */
async function everyPeriod(
  command: Command,
  periodMs: number,
  round: (index: number) => boolean,
): Promise<void> {
  for (let index = 0; !command.isFinished; index++) {
    if (!round(index)) return;
    await command.sleep(periodMs);
  }
}

async function monitorTraffic(
  ctx: SimulatorContext,
  command: Command,
  args: Map<string, Buffer>,
): Promise<void> {
  checkArguments(ctx, args, MONITOR_ARGUMENTS);
  const names = interfacesOf(ctx, required(args, 'interface'));
  const sample = (name: string): Row => {
    const rxPackets = ctx.live.int(0, 20000);
    const txPackets = ctx.live.int(0, 20000);
    return row({
      name,
      'rx-packets-per-second': String(rxPackets),
      'rx-bits-per-second': String(rxPackets * ctx.live.int(400, 12000)),
      'fp-rx-packets-per-second': String(rxPackets),
      'fp-rx-bits-per-second': '0',
      'rx-drops-per-second': '0',
      'rx-errors-per-second': '0',
      'tx-packets-per-second': String(txPackets),
      'tx-bits-per-second': String(txPackets * ctx.live.int(400, 12000)),
      'fp-tx-packets-per-second': String(txPackets),
      'fp-tx-bits-per-second': '0',
      'tx-drops-per-second': '0',
      'tx-queue-drops-per-second': '0',
      'tx-errors-per-second': '0',
    });
  };
  if (args.has('once')) {
    command.finish(names.map((name) => rowWords(command.tag, sample(name))));
    return;
  }
  markStream(ctx, command);
  await everyPeriod(command, ctx.options.streamIntervalMs, () => {
    command.send(names.map((name) => rowWords(command.tag, sample(name))));
    return true;
  });
}

async function ping(
  ctx: SimulatorContext,
  command: Command,
  args: Map<string, Buffer>,
): Promise<void> {
  checkArguments(ctx, args, PING_ARGUMENTS);
  const host = required(args, 'address');
  const countText = args.get('count')?.toString('latin1');
  const count = countText === undefined ? undefined : Number(countText);
  if (count !== undefined && !(/^\d+$/.test(countText as string) && count >= 1)) {
    throw new TrapError('input does not match any value of count', 1);
  }
  const periodMs = Math.max(
    1,
    Math.round(positiveSeconds(args, 'interval', 1) * ctx.options.streamIntervalMs),
  );
  const size = args.get('size')?.toString('latin1') ?? '56';
  if (count === undefined) markStream(ctx, command);
  let min = Infinity;
  let max = 0;
  let total = 0;
  await everyPeriod(command, periodMs, (index) => {
    const rtt = ctx.live.int(1, 40);
    min = Math.min(min, rtt);
    max = Math.max(max, rtt);
    total += rtt;
    const sent = index + 1;
    const words: WordInput[] = rowWords(
      command.tag,
      new Map([
        ['seq', Buffer.from(String(index), 'latin1')],
        ['host', host],
        ...Object.entries({
          size,
          ttl: '64',
          time: `${rtt}ms`,
          sent: String(sent),
          received: String(sent),
          'packet-loss': '0',
          'min-rtt': `${min}ms`,
          'avg-rtt': `${Math.round(total / sent)}ms`,
          'max-rtt': `${max}ms`,
        }).map(([k, v]): [string, Buffer] => [k, Buffer.from(v, 'latin1')]),
      ]),
    );
    if (sent === count) {
      command.finish([words]);
      return false;
    }
    command.send([words]);
    return true;
  });
}

async function torch(
  ctx: SimulatorContext,
  command: Command,
  args: Map<string, Buffer>,
): Promise<void> {
  checkArguments(ctx, args, TORCH_ARGUMENTS);
  const [name] = interfacesOf(ctx, required(args, 'interface'));
  const rounds = args.has('duration')
    ? Math.max(1, Math.round(positiveSeconds(args, 'duration', 1)))
    : undefined;
  if (rounds === undefined) markStream(ctx, command);
  const flows = [
    ['10.5.50.10', '8.8.8.8', '17'],
    ['10.5.50.11', '1.1.1.1', '6'],
    ['10.5.50.12', '93.184.216.34', '6'],
  ] as const;
  await everyPeriod(command, ctx.options.streamIntervalMs, (index) => {
    const words = flows.map(([src, dst, protocol]) =>
      rowWords(
        command.tag,
        row({
          '.section': String(index),
          interface: name as string,
          'src-address': src,
          'dst-address': dst,
          'ip-protocol': protocol === '6' ? 'tcp' : 'udp',
          tx: String(ctx.live.int(0, 1e6)),
          rx: String(ctx.live.int(0, 1e7)),
          'tx-packets': String(ctx.live.int(0, 1000)),
          'rx-packets': String(ctx.live.int(0, 1000)),
        }),
      ),
    );
    if (index + 1 === rounds) {
      command.finish(words);
      return false;
    }
    command.send(words);
    return true;
  });
}
