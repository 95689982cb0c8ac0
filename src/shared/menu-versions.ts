/**
 * Strict mode's version check (issue 18) over several menus at once: a
 * print of a menu must also notice writes to the menus whose writes drop
 * it (its related sources). The keys are the ones `PUBLISH_INVALIDATION`
 * bumps (`<prefix>{<router>}:ver:<menu>`, and `ver:*` for "every menu"),
 * read with one MGET.
 */
import { FLUSH_ALL } from './invalidation-bus.js';
import type { SharedLink } from './shared-link.js';

/**
 * The sum of the versions of `menus` and of the flush counter on `router`:
 * it grows with every invalidation of any of them. Undefined when Redis is
 * down or does not answer (then nothing may be served from the cache).
 */
export async function menusVersion(
  link: SharedLink,
  router: string,
  menus: readonly string[],
): Promise<number | undefined> {
  const keys = [...menus, FLUSH_ALL].map((menu) => link.key(router, `ver:${menu}`));
  const reply = await link.send(['MGET', ...keys]);
  if (!Array.isArray(reply)) return undefined;
  let sum = 0;
  for (const value of reply) sum += Number(value ?? 0);
  return sum;
}
