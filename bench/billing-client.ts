/**
 * What the benchmarks' billing clients share: the test suite's RawClient,
 * logged in, sending one pre-encoded untagged command at a time and counting
 * what comes back (rows are counted, not kept).
 */
import type { Sentence } from '../src/protocol/index.js';
import { RawClient } from '../test/fixtures/raw-client.js';

/** What one untagged command came back with. */
export interface Reply {
  rows: number;
  /** The message of the first `!trap`, if any. */
  trap: string | undefined;
  /** `=ret=` of the `!done` when nothing trapped (the new id after an add). */
  ret: string | undefined;
}

/**
 * A client logged in over its own connection to 127.0.0.1:`port`.
 * @param timeoutMs the longest a command may take before the run is declared broken.
 */
export async function billingClient(
  port: number,
  user: string,
  password: string,
  timeoutMs: number,
): Promise<RawClient> {
  const client = await RawClient.connect(port, { readTimeoutMs: timeoutMs });
  const [reply] = await client.login(user, password);
  if (reply?.command !== '!done') throw new Error(`login refused: ${String(reply)}`);
  return client;
}

/**
 * Send one encoded, untagged sentence; resolves at its `!done` (and fails
 * when the connection ends first, after a `!fatal`, or takes too long).
 */
export async function sendCommand(client: RawClient, sentence: Buffer): Promise<Reply> {
  client.write(sentence);
  const replies = await client.untilDone();
  let rows = 0;
  let trap: string | undefined;
  for (const reply of replies) {
    const word = reply.command;
    if (word === '!re') rows++;
    else if (word === '!trap') trap ??= reply.attributeString('message') ?? 'trap';
  }
  const done = replies[replies.length - 1] as Sentence;
  return { rows, trap, ret: trap === undefined ? done.attributeString('ret') : undefined };
}

/** The `=name=` of every row a print returns (setup only). */
export async function names(client: RawClient, words: readonly string[]): Promise<string[]> {
  const replies = await client.call(words);
  return replies.filter((s) => s.command === '!re').map((row) => row.attributeString('name') ?? '');
}
