/**
 * The `cache` section: the reply cache stage (src/cache). Declared once as a
 * zod schema; its defaults are the tables below.
 */
import { z } from 'zod';
import { MAX_TIMER_MS, env } from './settings.js';

/**
 * How long prints of the menus matching `path` stay fresh. `path` is a glob:
 * `*` stands for any text inside one path segment, `**` for any number of
 * segments, none included. The first rule that matches wins.
 */
export interface TtlRule {
  readonly path: string;
  /** Lifetime of a reply that shows no volatile property. */
  readonly ttlMs: number;
  /**
   * Lifetime of a reply that may show a volatile property (no `.proplist`, or
   * one naming a counter, or a query on one). @default ttlMs
   */
  readonly volatileTtlMs?: number | undefined;
}

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;

/**
 * The built-in TTL table. Counters and active-session tables change on the
 * router without passing through rosgate, so they get seconds; user and
 * secret tables show uptime and byte counters, so they get seconds unless
 * the `.proplist` leaves every counter out; configuration that only changes
 * when someone edits it gets minutes.
 */
export const DEFAULT_TTL_RULES: readonly TtlRule[] = Object.freeze([
  { path: '/ip/hotspot/active', ttlMs: 2 * SECOND_MS },
  { path: '/ip/hotspot/host', ttlMs: 2 * SECOND_MS },
  { path: '/ppp/active', ttlMs: 2 * SECOND_MS },
  { path: '/system/resource', ttlMs: 2 * SECOND_MS },
  { path: '/system/resource/**', ttlMs: 2 * SECOND_MS },
  { path: '/system/clock', ttlMs: SECOND_MS },
  { path: '/system/health', ttlMs: 2 * SECOND_MS },
  { path: '/user/active', ttlMs: 2 * SECOND_MS },
  { path: '/log', ttlMs: 2 * SECOND_MS },
  { path: '/queue/**', ttlMs: 2 * SECOND_MS },
  { path: '/interface', ttlMs: 2 * SECOND_MS },
  { path: '/interface/**', ttlMs: 5 * SECOND_MS },
  { path: '/ip/firewall/**', ttlMs: 5 * SECOND_MS },
  { path: '/ip/dhcp-server/lease', ttlMs: 5 * SECOND_MS },
  { path: '/ip/arp', ttlMs: 5 * SECOND_MS },
  { path: '/ip/neighbor', ttlMs: 5 * SECOND_MS },
  { path: '/ip/route', ttlMs: 5 * SECOND_MS },
  { path: '/ip/hotspot/user', ttlMs: 5 * MINUTE_MS, volatileTtlMs: 5 * SECOND_MS },
  { path: '/ppp/secret', ttlMs: 5 * MINUTE_MS, volatileTtlMs: 5 * SECOND_MS },
  { path: '/system/identity', ttlMs: 10 * MINUTE_MS },
  { path: '/system/routerboard', ttlMs: 10 * MINUTE_MS },
  { path: '/system/package', ttlMs: 10 * MINUTE_MS },
  { path: '/ip/hotspot/user/profile', ttlMs: 10 * MINUTE_MS },
  { path: '/ip/hotspot/profile', ttlMs: 10 * MINUTE_MS },
  { path: '/ppp/profile', ttlMs: 10 * MINUTE_MS },
  { path: '/ip/pool', ttlMs: 10 * MINUTE_MS },
]);

/**
 * Properties that change on the router by themselves (counters). Globs as
 * for paths. A print that may show one of them is volatile.
 */
export const DEFAULT_VOLATILE_PROPERTIES: readonly string[] = Object.freeze([
  'uptime',
  'session-time-left',
  'idle-time',
  'bytes',
  'bytes-*',
  '*-bytes',
  'packets',
  'packets-*',
  '*-packets',
  '*-byte',
  '*-packet',
  'limit-bytes-*',
  'limit-uptime',
  'last-logged-out',
  'last-logged-in',
  'last-caller-id',
  'last-disconnect-reason',
  'last-link-up-time',
  'last-link-down-time',
  'link-downs',
]);

/**
 * Menus whose prints a write to another menu changes, by the written menu
 * (a glob). Removing a hotspot user ends its session; a profile change shows
 * in its users; a change to any interface shows in `/interface`.
 */
export const DEFAULT_RELATED: Readonly<Record<string, readonly string[]>> = Object.freeze({
  '/ip/hotspot/user': ['/ip/hotspot/active', '/ip/hotspot/host'],
  '/ip/hotspot/active': ['/ip/hotspot/user', '/ip/hotspot/host'],
  '/ip/hotspot/host': ['/ip/hotspot/active', '/ip/hotspot/user'],
  '/ip/hotspot/user/profile': ['/ip/hotspot/user'],
  '/ppp/secret': ['/ppp/active'],
  '/ppp/active': ['/ppp/secret'],
  '/ppp/profile': ['/ppp/secret', '/ppp/active'],
  '/interface': ['/interface/**'],
  '/interface/**': ['/interface'],
  '/ip/dhcp-server/lease': ['/ip/arp'],
});

/**
 * Menus whose rows are independent by default: a write to one row changes
 * no other row of the menu, and a name is kept as it was given.
 */
export const DEFAULT_ROW_SCOPED: readonly string[] = Object.freeze([
  '/ip/hotspot/user',
  '/ppp/secret',
]);

/** Menus watched with `listen` by default: configuration that billing software caches long. */
export const DEFAULT_LISTEN_PATHS: readonly string[] = Object.freeze([
  '/ip/hotspot/user',
  '/ip/hotspot/user/profile',
  '/ppp/secret',
  '/ppp/profile',
]);

const MENU_PATH_RULE = 'must be a menu path starting with /';
const menuPath = z.string().regex(/^\/\S*$/, MENU_PATH_RULE);
const ms = z.number().int().min(0);

const ttlRuleSchema = z
  .object({
    path: menuPath,
    ttlMs: ms,
    volatileTtlMs: ms.optional(),
  })
  .strict();

/** The `cache` section's schema. */
export const cacheSchema = z
  .object({
    /** Switches the stage; off, every command goes to the router. @default true */
    enabled: env(z.boolean().default(true), 'ENABLE_CACHING'),
    /** Most replies kept, per router. @default 1000 */
    maxEntries: env(z.number().int().min(1).default(1000), 'CACHE_MAX_SIZE'),
    /** Most memory of replies kept, per router: their bytes, keys and rows. @default 67108864 (64 MiB) */
    maxBytes: z
      .number()
      .int()
      .min(1)
      .default(64 * 1024 * 1024),
    /** A reply larger than this share of maxBytes is not kept. @default 0.1 */
    maxEntryShare: z.number().gt(0).max(1).default(0.1),
    /** Lifetime of prints no rule matches. @default 300000 */
    defaultTtlMs: env(ms.default(5 * MINUTE_MS), 'CACHE_DEFAULT_TTL'),
    /** Lifetimes by path; replaces the built-in table when given. @default DEFAULT_TTL_RULES */
    ttlRules: z.array(ttlRuleSchema).default(() => DEFAULT_TTL_RULES.map((rule) => ({ ...rule }))),
    /** Properties that make a print volatile. @default DEFAULT_VOLATILE_PROPERTIES */
    volatileProperties: z.array(z.string().min(1)).default(() => [...DEFAULT_VOLATILE_PROPERTIES]),
    /** Menus a write also invalidates, by written menu. @default DEFAULT_RELATED */
    related: z
      .record(z.string(), z.array(menuPath))
      .superRefine((related, ctx) => {
        for (const path of Object.keys(related)) {
          if (!menuPath.safeParse(path).success)
            ctx.addIssue({ code: 'custom', message: MENU_PATH_RULE, path: [path], input: path });
        }
      })
      .default(() =>
        Object.fromEntries(Object.entries(DEFAULT_RELATED).map(([path, to]) => [path, [...to]])),
      ),
    /**
     * Menus whose rows are independent (a write to one row changes no other,
     * a name is kept as given). There, a write to known rows (add by name;
     * set, remove, enable, disable, reset-counters, comment by `*id`) and
     * the listen's report of it drop only the replies that can show those
     * rows. @default DEFAULT_ROW_SCOPED
     */
    rowScoped: z.array(menuPath).default(() => [...DEFAULT_ROW_SCOPED]),
    /** Change detection with one `listen` per cached menu. */
    listen: z
      .object({
        /** @default true */
        enabled: z.boolean().default(true),
        /** Menus watched (exact paths). @default DEFAULT_LISTEN_PATHS */
        paths: z.array(menuPath).default(() => [...DEFAULT_LISTEN_PATHS]),
        /** First wait before a lost listen is sent again; doubles up to retryMaxMs. @default 1000 */
        retryInitialMs: ms.min(1).max(MAX_TIMER_MS).default(SECOND_MS),
        /** @default 30000 */
        retryMaxMs: ms
          .min(1)
          .max(MAX_TIMER_MS)
          .default(30 * SECOND_MS),
        /** Wait before a listen the router refused (with and without `.proplist`) is tried again. @default 300000 */
        refusedRetryMs: ms
          .min(1)
          .max(MAX_TIMER_MS)
          .default(5 * MINUTE_MS),
      })
      .strict()
      .prefault({}),
    /** How long past its lifetime a reply may still be served while the router is away; 0 never. @default 60000 */
    maxStaleMs: ms.default(MINUTE_MS),
    /** Check a sha256 digest of each reply on every hit. @default false */
    integrity: env(z.boolean().default(false), 'ENABLE_CACHE_INTEGRITY'),
  })
  .strict();

/** The validated `cache` section. */
export type CacheConfig = z.output<typeof cacheSchema>;
