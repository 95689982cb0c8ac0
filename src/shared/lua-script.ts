import { createHash } from 'node:crypto';

/** What a script needs of a Redis connection: one raw command. */
export type SendCommand = (args: readonly string[]) => Promise<unknown>;

/**
 * A Lua script sent by its SHA1 (`EVALSHA`), and in full (`EVAL`) only when
 * Redis does not know it yet: the first call, or after Redis restarted.
 */
export class LuaScript {
  /** What it does, as the round-trip counters name it (`lease`, `publish`...). */
  readonly name: string;
  /** The script's source. */
  readonly source: string;
  /** Its SHA1, as `EVALSHA` wants it. */
  readonly sha: string;

  constructor(name: string, source: string) {
    this.name = name;
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /**
   * Runs the script; rejects as the command does. The `NOSCRIPT` retry is
   * the only second round trip, and only once per script and Redis start.
   */
  async run(
    send: SendCommand,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args.map(String)];
    try {
      return await send(['EVALSHA', this.sha, ...tail]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return send(['EVAL', this.source, ...tail]);
    }
  }
}
