import { Sentence } from '../protocol/index.js';
import type { Pool } from './pool.js';
import type { UpstreamConnection } from './upstream-connection.js';

/**
 * The router's RouterOS version, asked on one of the pool's sessions
 * (`/system/resource`): what decides whether a legacy challenge login can be
 * relayed to it (docs/routeros-api.md §3).
 */
export function askRouterVersion(pool: Pool): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    pool.acquire((connection) => {
      askVersion(connection).then(
        (version) => {
          pool.commandEnded();
          resolve(version);
        },
        (err: unknown) => {
          pool.commandEnded();
          reject(err);
        },
      );
    }, reject);
  });
}

/**
 * The version `/system/resource` reports on a logged-in `connection`
 * (`7.19 (stable)`); undefined when the router gives none (an account that
 * may not read it gets a `!trap`, which ends the command all the same).
 */
export function askVersion(connection: UpstreamConnection): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let version: string | undefined;
    connection.send(Sentence.from(['/system/resource/print', '=.proplist=version']), {
      onReply(sentence, isFinal) {
        version ??= sentence.attributeString('version');
        if (isFinal) resolve(version);
      },
      onError: reject,
    });
  });
}
