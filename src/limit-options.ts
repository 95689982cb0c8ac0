/**
 * The one mapping from the `limits` section to what a router's listener,
 * its client sessions and its login checks take. app.ts uses it when it
 * builds a router and again on every reload, so a key cannot be applied at
 * start and forgotten at reload.
 */
import type { LimitsConfig } from './config/index.js';
import type { CodePage } from './protocol/index.js';

/** Words and sentences a login sentence needs at most. */
const PRE_LOGIN_MAX_WORDS = 32;

/** What `limits` sets, by the part of a router that takes it. */
export interface LimitOptions {
  /** The listener's caps and socket options. `backlog` applies when the port is bound: at start. */
  readonly listener: {
    readonly maxClients: number;
    readonly maxClientsPerAddress: number;
    readonly keepAliveMs: number;
    readonly backlog: number;
  };
  /** Every client session's limits. */
  readonly session: {
    readonly decoderLimits: {
      readonly maxWordBytes: number;
      readonly maxWordsPerSentence: number;
      readonly maxSentenceBytes: number;
    };
    readonly preLoginDecoderLimits: {
      readonly maxWordBytes: number;
      readonly maxWordsPerSentence: number;
      readonly maxSentenceBytes: number;
    };
    readonly maxInFlightPerClient: number;
    readonly maxOutputBufferBytes: number;
    readonly preLoginMaxSentences: number;
    readonly preLoginTimeoutMs: number;
    readonly clientIdleTimeoutMs: number;
    readonly sentenceTimeoutMs: number;
    readonly sendTimeoutMs: number;
    readonly keepaliveReply: LimitsConfig['keepaliveReply'];
  };
  /**
   * How clients' text that is not UTF-8 is read, by their logins, the user
   * list and policy rules alike: taken at start only (a restart-only key).
   */
  readonly codePage: CodePage;
  /** The router authenticator's login checks (no effect with configured users). */
  readonly loginChecks: {
    readonly ttlMs: number;
    readonly failureTtlMs: number;
    readonly maxConcurrentChecks: number;
    readonly maxRelayedChallenges: number;
  };
}

/** Maps every key of `limits` to the option it sets. */
export function limitOptions(limits: LimitsConfig): LimitOptions {
  return {
    listener: {
      maxClients: limits.maxClients,
      maxClientsPerAddress: limits.maxClientsPerAddress,
      keepAliveMs: limits.clientKeepAliveMs,
      backlog: limits.listenBacklog,
    },
    session: {
      decoderLimits: {
        maxWordBytes: limits.maxWordBytes,
        maxWordsPerSentence: limits.maxWordsPerSentence,
        maxSentenceBytes: limits.maxSentenceBytes,
      },
      // Before login the limits are those of a login sentence (docs/architecture.md code rule 4a).
      preLoginDecoderLimits: {
        maxWordBytes: Math.min(limits.maxWordBytes, limits.preLoginMaxSentenceBytes),
        maxWordsPerSentence: Math.min(limits.maxWordsPerSentence, PRE_LOGIN_MAX_WORDS),
        maxSentenceBytes: Math.min(limits.maxSentenceBytes, limits.preLoginMaxSentenceBytes),
      },
      maxInFlightPerClient: limits.maxInFlightPerClient,
      maxOutputBufferBytes: limits.maxOutputBufferBytes,
      preLoginMaxSentences: limits.preLoginMaxSentences,
      preLoginTimeoutMs: limits.preLoginTimeoutMs,
      clientIdleTimeoutMs: limits.clientIdleTimeoutMs,
      sentenceTimeoutMs: limits.sentenceTimeoutMs,
      sendTimeoutMs: limits.sendTimeoutMs,
      keepaliveReply: limits.keepaliveReply,
    },
    codePage: limits.clientCodePage,
    loginChecks: {
      ttlMs: limits.loginCacheTtlMs,
      failureTtlMs: limits.loginFailureCacheTtlMs,
      maxConcurrentChecks: limits.maxConcurrentLoginChecks,
      maxRelayedChallenges: limits.maxRelayedLoginChallenges,
    },
  };
}
