import { Sentence } from '../protocol/index.js';
import type { Pool } from './pool.js';

/**
 * The router's RouterOS version, asked on one of the pool's sessions
 * (`/system/resource`): what decides whether a legacy challenge login can be
 * relayed to it (docs/routeros-api.md §3).
 */
export function askRouterVersion(pool: Pool): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    pool.acquire((connection) => {
      let version: string | undefined;
      connection.send(Sentence.from(['/system/resource/print', '=.proplist=version']), {
        onReply(sentence, isFinal) {
          version ??= sentence.attributeString('version');
          if (!isFinal) return;
          pool.commandEnded();
          resolve(version);
        },
        onError(err) {
          pool.commandEnded();
          reject(err);
        },
      });
    }, reject);
  });
}
