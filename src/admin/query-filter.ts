/**
 * The filters `?router=`, `?source=`, `?user=`, `?id=` of the admin port's
 * lists (lockouts, clients), read one way: each once, checked, a 400
 * naming the key for anything else.
 */
import { isIP } from 'node:net';
import { HttpProblem } from './http-reply.js';

/** `::ffff:192.0.2.1` is `192.0.2.1`, as the login gate counts it. */
export function sourceKey(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * The filter in a query string, of `keys` only: each given once, 1-256
 * characters, `source` an IP address (IPv4-mapped read as IPv4), and
 * `id` a positive integer; a 400 naming the key for anything else.
 */
export function queryFilter<K extends string>(
  url: URL,
  keys: readonly K[],
): Partial<Record<K, string | number>> {
  const filter: Record<string, string | number> = {};
  for (const [key, value] of url.searchParams) {
    if (!(keys as readonly string[]).includes(key)) {
      const names = `${keys.slice(0, -1).join(', ')} or ${keys.at(-1) as string}`;
      throw new HttpProblem(400, key, `use ${names}`);
    }
    if (Object.hasOwn(filter, key)) {
      throw new HttpProblem(400, key, `${key} may be given only once`);
    }
    if (value === '' || value.length > 256) {
      throw new HttpProblem(400, key, `${key} must be 1-256 characters`);
    }
    if (key === 'source' && isIP(value) === 0) {
      throw new HttpProblem(400, key, 'source must be an IP address');
    }
    if (key === 'id' && !/^[1-9][0-9]{0,15}$/.test(value)) {
      throw new HttpProblem(400, key, 'id must be a connection id (a positive integer)');
    }
    filter[key] = key === 'id' ? Number(value) : key === 'source' ? sourceKey(value) : value;
  }
  return filter as Partial<Record<K, string | number>>;
}
