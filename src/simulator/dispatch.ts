import { trapWords, type Sentence } from '../protocol/index.js';
import type { Command } from './command.js';
import type { SimulatorContext } from './context.js';
import type { Database, Verb } from './database.js';
import { runMenuCommand } from './menu-commands.js';
import { runStreamCommand, STREAM_COMMANDS, type StreamCommand } from './streams.js';

const API_COMMANDS = ['/login', '/cancel', '/quit'];

function isStreamCommand(path: string): path is StreamCommand {
  return (STREAM_COMMANDS as readonly string[]).includes(path);
}

/**
 * The word RouterOS names in `no such command or directory (<word>)`: the
 * first path segment that leads nowhere (§2).
 */
export function unknownWord(db: Database, path: string): string {
  if (!path.startsWith('/')) return path;
  const known = new Set<string>();
  for (const full of [...db.paths(), ...STREAM_COMMANDS, ...API_COMMANDS]) {
    let prefix = '';
    for (const segment of full.split('/').slice(1)) {
      prefix += `/${segment}`;
      known.add(prefix);
    }
  }
  const segments = path.split('/').slice(1);
  let prefix = '';
  for (const segment of segments) {
    prefix += `/${segment}`;
    if (!known.has(prefix)) return segment;
  }
  return segments[segments.length - 1] as string;
}

/** Run a command of a logged-in session (login, cancel and quit are the session's). */
export async function dispatch(
  ctx: SimulatorContext,
  command: Command,
  sentence: Sentence,
): Promise<void> {
  const path = sentence.command;
  if (isStreamCommand(path)) {
    await runStreamCommand(ctx, command, path, sentence);
    return;
  }
  const slash = path.lastIndexOf('/');
  const menu = slash > 0 ? ctx.db.menu(path.slice(0, slash)) : undefined;
  const verb = path.slice(slash + 1) as Verb;
  if (menu !== undefined && menu.verbs.has(verb)) {
    await runMenuCommand(ctx, command, menu, verb, sentence);
    return;
  }
  // Unknown path: two traps, then `!done` (docs/routeros-api.md §2).
  command.finish([
    trapWords(command.tag, `no such command or directory (${unknownWord(ctx.db, path)})`, 0),
    trapWords(command.tag, 'no such command prefix'),
  ]);
}
