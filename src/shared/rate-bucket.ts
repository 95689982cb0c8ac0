/**
 * What the flow stage asks of a rate limiter is src/flow/token-bucket.ts's
 * `RateLimiter`: the local TokenBucket and the {@link SharedTokenBucket} both
 * fit, so flow can be given either by the composition root.
 */
import type { RateLimiter, TokenBucketOptions } from '../flow/token-bucket.js';

export type RateBucket = RateLimiter;

/** The shape of a bucket: `refillTokens` every `refillIntervalMs`, up to `capacity`. */
export type BucketShape = Omit<TokenBucketOptions, 'now'>;
