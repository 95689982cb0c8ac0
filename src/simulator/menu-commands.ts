import { tagWords, type Sentence, type WordInput } from '../protocol/index.js';
import { rowWords, type Command } from './command.js';
import {
  checkArguments,
  markStream,
  parseDuration,
  splitList,
  type SimulatorContext,
} from './context.js';
import { TrapError, type Menu, type Row, type Verb } from './database.js';
import { compileQuery, type QueryPredicate } from './query.js';

/** Arguments `print` accepts (§6); the others are refused as unknown parameters. */
const PRINT_ARGUMENTS = new Set([
  '.proplist',
  'detail',
  'count-only',
  'from',
  'stats',
  'follow',
  'follow-only',
  'interval',
  'without-paging',
  'terse',
  'brief',
  'value-list',
]);
const LISTEN_ARGUMENTS = new Set(['.proplist']);
const ID_ARGUMENTS = ['.id', 'numbers'];
/** Rows are written in batches of about this many bytes when nothing slows them down. */
const BATCH_BYTES = 64 * 1024;
/** Rows of a print between two `latencyPer100RowsMs` pauses. */
const PACE_ROWS = 100;

/** Run `verb` on `menu` (the caller checked the menu offers it). */
export async function runMenuCommand(
  ctx: SimulatorContext,
  command: Command,
  menu: Menu,
  verb: Verb,
  sentence: Sentence,
): Promise<void> {
  const args = sentence.attributes();
  try {
    switch (verb) {
      case 'print':
      case 'getall':
        await print(ctx, command, menu, args, compileQuery(sentence.queries()));
        return;
      case 'listen':
        checkArguments(ctx, args, LISTEN_ARGUMENTS);
        refuseListen(ctx, args);
        listen(ctx, command, menu, compileQuery(sentence.queries()), proplistOf(args), false);
        return;
      case 'get':
        get(ctx, command, menu, args);
        return;
      case 'add':
        command.finish([], { ret: menu.add(args) });
        return;
      case 'set':
        menu.set(takeIds(ctx, menu, args), args);
        break;
      case 'remove':
        menu.remove(takeIds(ctx, menu, args, true));
        break;
      case 'enable':
      case 'disable': {
        const ids = takeIds(ctx, menu, args, true);
        menu.set(ids, { disabled: verb === 'disable' ? 'true' : 'false' });
        break;
      }
      case 'unset': {
        const ids = takeIds(ctx, menu, args);
        const names = splitList(args.get('value-name'));
        args.delete('value-name');
        checkArguments(ctx, args, new Set());
        menu.unset(ids, names);
        break;
      }
    }
    command.finish();
  } catch (err) {
    /* c8 ignore next -- only TrapErrors are thrown on purpose; anything else is a bug worth crashing the test on */
    if (!(err instanceof TrapError)) throw err;
    command.fail(err.message, err.category);
  }
}

/** Take `.id` / `numbers` out of `args`; with `only`, nothing else may be left. */
function takeIds(
  ctx: SimulatorContext,
  menu: Menu,
  args: Map<string, Buffer>,
  only = false,
): string[] {
  const ids: string[] = [];
  for (const name of ID_ARGUMENTS) {
    ids.push(...splitList(args.get(name)));
    args.delete(name);
  }
  if (only) checkArguments(ctx, args, new Set());
  if (ids.length === 0 && menu.spec.singleton !== true)
    throw new TrapError(ctx.options.noSuchItemMessage);
  return ids;
}

function proplistOf(args: Map<string, Buffer>): string[] | undefined {
  const value = args.get('.proplist');
  return value === undefined ? undefined : splitList(value);
}

/** Keep only the listed properties; a row with none of them becomes a bare `!re` (docs/routeros-api.md §6). */
function project(row: Row, proplist: readonly string[] | undefined): Row {
  if (proplist === undefined || row.has('.dead')) return row;
  const out: Row = new Map();
  for (const name of proplist) {
    const value = row.get(name);
    if (value !== undefined) out.set(name, value);
  }
  return out;
}

function get(ctx: SimulatorContext, command: Command, menu: Menu, args: Map<string, Buffer>): void {
  const key = (args.get('.id') ?? args.get('number') ?? Buffer.alloc(0)).toString('latin1');
  const row = menu.find(key);
  if (row === undefined) throw new TrapError(ctx.options.noSuchItemMessage);
  const name = (args.get('value-name') ?? Buffer.alloc(0)).toString('latin1');
  const value = row.get(name);
  if (value === undefined) throw new TrapError(ctx.options.unknownParameterMessage(name));
  command.finish([], { ret: value });
}

async function print(
  ctx: SimulatorContext,
  command: Command,
  menu: Menu,
  args: Map<string, Buffer>,
  match: QueryPredicate,
): Promise<void> {
  checkArguments(ctx, args, PRINT_ARGUMENTS);
  const proplist = proplistOf(args);
  if (args.has('follow') || args.has('follow-only')) {
    listen(ctx, command, menu, match, proplist, args.has('follow'));
    return;
  }
  const interval = args.get('interval');
  if (interval !== undefined) {
    const seconds = parseDuration(interval.toString('latin1'));
    if (seconds === undefined || seconds <= 0)
      throw new TrapError('input does not match any value of interval', 1);
    await reprint(ctx, command, menu, match, proplist, args.get('from'), seconds);
    return;
  }
  const rows = select(ctx, menu, match, args.get('from'));
  if (args.has('count-only')) {
    command.finish([], { ret: String(rows.length) });
    return;
  }
  const tail: WordInput[][] = [];
  // RouterOS 7.18+ announces a print without rows (docs/routeros-api.md §6).
  if (rows.length === 0 && ctx.profile.emptyReplies)
    tail.push(['!empty', ...tagWords(command.tag)]);
  await emitRows(ctx, command, rows, proplist, tail);
}

function select(
  ctx: SimulatorContext,
  menu: Menu,
  match: QueryPredicate,
  from: Buffer | undefined,
): Row[] {
  const keys = splitList(from);
  if (keys.length === 0) return menu.select(match);
  const rows: Row[] = [];
  for (const key of keys) {
    const row = menu.find(key);
    if (row === undefined) throw new TrapError(ctx.options.noSuchItemMessage);
    rows.push(row);
  }
  return rows.filter((row) => match((name) => row.get(name)));
}

/**
 * Write rows as they are produced: one by one when `rowLatencyMs` slows them,
 * otherwise in batches, waiting for the socket to drain; the last batch and
 * `tail` go out with `!done` in one write. After every 100th row the rows so
 * far go out and the print pauses `latencyPer100RowsMs`, a router's pace.
 */
async function emitRows(
  ctx: SimulatorContext,
  command: Command,
  rows: readonly Row[],
  proplist: readonly string[] | undefined,
  tail: readonly WordInput[][],
): Promise<void> {
  let batch: WordInput[][] = [];
  let bytes = 0;
  let written = 0;
  for (const row of rows) {
    const delayMs = ctx.faults.rowLatencyMs;
    if (delayMs > 0) {
      await command.sleep(delayMs);
      if (command.isFinished) return;
    }
    const words = rowWords(command.tag, project(row, proplist));
    batch.push(words);
    for (const word of words) bytes += word.length + 2;
    written++;
    const paceMs = written % PACE_ROWS === 0 ? ctx.faults.latencyPer100RowsMs : 0;
    if (delayMs > 0 || paceMs > 0 || bytes >= BATCH_BYTES) {
      const isWritable = command.send(batch);
      batch = [];
      bytes = 0;
      if (!isWritable) {
        await command.drained();
        if (command.isFinished) return;
      }
    }
    if (paceMs > 0) {
      await command.sleep(paceMs);
      if (command.isFinished) return;
    }
  }
  command.finish([...batch, ...tail]);
}

/** The `refuseListen` fault: a router where listen does not work, or not with `.proplist`. */
function refuseListen(ctx: SimulatorContext, args: Map<string, Buffer>): void {
  const mode = ctx.faults.refuseListen;
  if (mode === 'always') throw new TrapError('no such command or directory (listen)', 0);
  if (mode === 'proplist' && args.has('.proplist'))
    throw new TrapError(ctx.options.unknownParameterMessage('.proplist'));
}

/** `listen`, `print =follow=` and `=follow-only=`: rows on every change until `/cancel` (§5). */
function listen(
  ctx: SimulatorContext,
  command: Command,
  menu: Menu,
  match: QueryPredicate,
  proplist: readonly string[] | undefined,
  withCurrent: boolean,
): void {
  markStream(ctx, command);
  const unsubscribe = menu.subscribe((row) => {
    if (row.has('.dead') || match((name) => row.get(name)))
      command.send([rowWords(command.tag, project(row, proplist))]);
  });
  command.onEnd(unsubscribe);
  if (withCurrent) {
    const current = menu.select(match);
    command.send(current.map((row) => rowWords(command.tag, project(row, proplist))));
  }
}

/** `print =interval=`: the whole print again every interval until `/cancel`. */
async function reprint(
  ctx: SimulatorContext,
  command: Command,
  menu: Menu,
  match: QueryPredicate,
  proplist: readonly string[] | undefined,
  from: Buffer | undefined,
  seconds: number,
): Promise<void> {
  const rows = select(ctx, menu, match, from);
  markStream(ctx, command);
  const periodMs = Math.max(1, Math.round(seconds * ctx.options.streamIntervalMs));
  // Each round prints the rows `=from=` named at the start, by id (one
  // renamed since stays in, one removed is left out), or the whole menu.
  const keys = splitList(from).map((key) => String(menu.find(key)?.get('.id')));
  const chosen = (): Row[] =>
    keys.length === 0
      ? menu.select(match)
      : keys
          .map((key) => menu.find(key))
          .filter((row): row is Row => row !== undefined && match((name) => row.get(name)));
  let current = rows;
  while (!command.isFinished) {
    command.send(current.map((row) => rowWords(command.tag, project(row, proplist))));
    await command.sleep(periodMs);
    current = chosen();
  }
}
