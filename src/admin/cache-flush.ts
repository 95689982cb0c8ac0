import { z } from 'zod';

const name = z
  .string({ error: 'must be a string' })
  .min(1, { error: 'must not be empty' })
  .max(256, { error: 'must be at most 256 characters' });

/** The body of `POST /monitoring/cache/flush`: what to drop; nothing named drops everything. */
export const cacheFlushBody = z.strictObject({
  /** A menu path or glob (`/ip/hotspot/user`, `/ip/hotspot/**`). */
  path: name.optional(),
  /** One router's entries only. */
  router: name.optional(),
});
