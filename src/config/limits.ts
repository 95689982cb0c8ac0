/**
 * The `limits:` section: bounds on what one client may send or hold (docs/architecture.md
 * invariant 7), and the `log:` and `shutdown:` sections.
 */
import { z } from 'zod';
import { CODE_PAGES, DEFAULT_CODE_PAGE } from '../protocol/code-pages.js';
import { MAX_COUNT, env, integer, mapping, setting, timerMs } from './settings.js';

/** How rosgate answers the `#` keepalive sentence node-routeros sends. */
export const KEEPALIVE_REPLIES = ['done', 'trap'] as const;
export type KeepaliveReply = (typeof KEEPALIVE_REPLIES)[number];

/** Log levels pino understands, plus `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const count = (fallback: number, description: string) =>
  integer(1, MAX_COUNT).default(fallback).describe(description);

export const limitsSchema = mapping({
  /** A word's length prefix has 32 bits (docs/routeros-api.md §1). */
  maxWordBytes: integer(1, 0xffffffff)
    .default(1024 * 1024)
    .describe('Largest word a client may send.'),
  maxWordsPerSentence: count(1024, 'Most words in one client sentence.'),
  maxSentenceBytes: count(4 * 1024 * 1024, 'Largest client sentence in bytes.'),
  maxInFlightPerClient: count(32, 'Commands one client may have running.'),
  maxClientsPerAddress: count(100, 'Clients connected from one source address.'),
  maxClients: count(1000, 'Clients connected in total.'),
  maxOutputBufferBytes: count(
    8 * 1024 * 1024,
    'Bytes queued for a slow client before it is disconnected.',
  ),
  preLoginMaxSentences: count(4, 'Sentences a client may send before it has logged in.'),
  preLoginTimeoutMs: timerMs(1).default(10_000).describe('Time a client has to log in.'),
  loginCacheTtlMs: timerMs(0)
    .default(60_000)
    .describe('How long a login the router verified is remembered; 0 disables.'),
  loginFailureCacheTtlMs: timerMs(0)
    .default(5000)
    .describe('How long a password the router refused is remembered; 0 disables.'),
  maxConcurrentLoginChecks: integer(1, 1000)
    .default(4)
    .describe('Logins checked against the router at once.'),
  maxRelayedLoginChallenges: integer(1, 1000)
    .default(4)
    .describe(
      'Legacy challenge logins relayed to a router before 6.45.1 at once (each holds a router session until the client answers).',
    ),
  preLoginMaxSentenceBytes: integer(256, 0xffffffff)
    .default(8192)
    .describe('Largest word and sentence a client may send before it has logged in.'),
  clientIdleTimeoutMs: setting(
    timerMs(0)
      .default(0)
      .describe(
        'A logged-in client with nothing running is closed after this long silent; 0 never.',
      ),
    { guideEnv: 'SESSION_TIMEOUT' },
  ),
  sentenceTimeoutMs: timerMs(0)
    .default(60_000)
    .describe(
      'A sentence a client has begun must end within this long, or the client is closed; 0 never.',
    ),
  sendTimeoutMs: timerMs(0)
    .default(60_000)
    .describe(
      'A client that takes none of the output waiting for it for this long is dropped; 0 never.',
    ),
  clientKeepAliveMs: timerMs(1000)
    .default(60_000)
    .describe('TCP keepalive delay on client sockets.'),
  listenBacklog: integer(1, 65535)
    .default(4096)
    .describe('Connections the kernel queues before rosgate accepts them.'),
  keepaliveReply: z
    .enum(KEEPALIVE_REPLIES)
    .default('done')
    .describe("Answer to node-routeros' `#` keepalive."),
  clientCodePage: env(
    z
      .enum(CODE_PAGES)
      .default(DEFAULT_CODE_PAGE)
      .describe(
        "The code page a client's names, passwords and values are read in where they meet configured text and are not UTF-8: windows-1252 (node-routeros, Winbox on a Western PC), or e.g. windows-1251 for a panel saving Cyrillic in it. Applies at restart.",
      ),
    'CLIENT_CODE_PAGE',
  ),
}).describe('Bounds on what one client may send or hold.');

export const logSchema = mapping({
  level: setting(
    z.enum(LOG_LEVELS).default('info').describe('pino level (JSON lines on stdout).'),
    {
      env: 'LOG_LEVEL',
    },
  ),
});

export const shutdownSchema = mapping({
  graceMs: setting(
    timerMs(0).default(10_000).describe('How long a graceful drain waits for running commands.'),
    { guideEnv: 'SHUTDOWN_TIMEOUT' },
  ),
});

export type LimitsConfig = Readonly<z.output<typeof limitsSchema>>;
export type LogConfig = Readonly<z.output<typeof logSchema>>;
export type ShutdownConfig = Readonly<z.output<typeof shutdownSchema>>;
