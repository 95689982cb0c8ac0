/**
 * The Prometheus series read at scrape time: each one's `collect()` reads
 * the sources (pool, breaker, flow, cache, policy, proxy, audit) and the
 * stage's traffic tallies, and replaces the series' values with what it
 * read. Totals stay counters: the sources' totals only grow, and a router
 * removed by a reload disappears from the next scrape.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { ErrorCode } from '../errors.js';
import type { AdminSources, BreakerState, Priority, RouterSource } from './sources.js';
import { OUTCOMES, type Traffic } from './traffic.js';
import { VERB_CLASSES } from './verb-class.js';

type Labels = Record<string, string>;
/** One value of a series and its labels. */
type Sample = readonly [Labels, number];

/** `mikrotik_circuit_breaker_state` values. */
export const BREAKER_STATE_VALUE = {
  closed: 0,
  open: 1,
  'half-open': 2,
} as const satisfies Record<BreakerState, number>;

const PRIORITIES: readonly Priority[] = ['high', 'normal', 'low'];

/**
 * The codes a client command can be refused or fail with once it is in the
 * pipeline: `mikrotik_request_errors_total` has each at 0 from the first
 * scrape, so a rate over it is defined before the first error (other codes
 * appear when they happen).
 */
export const REQUEST_ERROR_CODES: readonly string[] = [
  ErrorCode.AcquireTimeout,
  ErrorCode.BreakerOpen,
  ErrorCode.CommandTimeout,
  ErrorCode.InputInvalid,
  ErrorCode.Internal,
  ErrorCode.Interrupted,
  ErrorCode.PolicyDenied,
  ErrorCode.RateLimited,
  ErrorCode.ShuttingDown,
  ErrorCode.UpstreamClosed,
  ErrorCode.UpstreamLogin,
  ErrorCode.UpstreamProtocol,
  ErrorCode.UpstreamTimeout,
];

interface SeriesSpec {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly read: () => Iterable<Sample>;
}

function counter(registry: Registry, spec: SeriesSpec): void {
  new Counter({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of spec.read()) this.inc(labels, value);
    },
  });
}

function gauge(registry: Registry, spec: SeriesSpec): void {
  new Gauge({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of spec.read()) this.set(labels, value);
    },
  });
}

/** What the series read besides the sources. */
export interface SeriesState {
  readonly traffic: Traffic;
  /** True when the last configuration (re)load succeeded. */
  isLastReloadOk(): boolean;
  /** When the configuration was last loaded successfully, ms since epoch. */
  lastReloadSuccessAt(): number;
}

/** What every family of series is registered with: the registry and readers over the sources. */
interface SeriesContext {
  readonly registry: Registry;
  readonly sources: AdminSources;
  readonly state: SeriesState;
  readonly traffic: Traffic;
  /** The label names of a series with one sample per router. */
  readonly router: string[];
  readonly perRouter: (read: (r: RouterSource) => number | undefined) => () => Iterable<Sample>;
  readonly perRouterMany: (
    read: (r: RouterSource) => Iterable<Sample> | undefined,
  ) => () => Iterable<Sample>;
  readonly byRecord: (record: Readonly<Record<string, number>>, label: string) => Sample[];
}

/** Registers every scrape-time series on `registry`. */
export function registerSeries(
  registry: Registry,
  sources: AdminSources,
  state: SeriesState,
): void {
  /** One sample per router from `read`; routers where it gives undefined are left out. */
  const perRouter = (read: (r: RouterSource) => number | undefined) =>
    function* (): Iterable<Sample> {
      for (const r of sources.routers()) {
        const value = read(r);
        if (value !== undefined) yield [{ router: r.name }, value];
      }
    };
  /** Several samples per router, each with its own extra labels. */
  const perRouterMany = (read: (r: RouterSource) => Iterable<Sample> | undefined) =>
    function* (): Iterable<Sample> {
      for (const r of sources.routers()) {
        for (const [labels, value] of read(r) ?? []) yield [{ router: r.name, ...labels }, value];
      }
    };
  const byRecord = (record: Readonly<Record<string, number>>, label: string): Sample[] =>
    Object.entries(record).map(([key, value]) => [{ [label]: key }, value]);
  const router = ['router'];
  const traffic = state.traffic;
  const context: SeriesContext = {
    registry,
    sources,
    state,
    traffic,
    router,
    perRouter,
    perRouterMany,
    byRecord,
  };
  registerPoolSeries(context);
  registerBreakerSeries(context);
  registerCacheSeries(context);
  registerFlowSeries(context);
  registerPolicySeries(context);
  registerClientSeries(context);
  registerCommandSeries(context);
  registerBusinessSeries(context);
  registerAppSeries(context);
}

/** Router sessions: the pool's figures. */
function registerPoolSeries({ registry, router, perRouter }: SeriesContext): void {
  // Pool.
  gauge(registry, {
    name: 'mikrotik_connection_pool_active',
    help: 'Router sessions carrying at least one command.',
    labelNames: router,
    read: perRouter((r) => r.pool().busy),
  });
  gauge(registry, {
    name: 'mikrotik_connection_pool_idle',
    help: 'Router sessions logged in and carrying no command.',
    labelNames: router,
    read: perRouter((r) => {
      const p = r.pool();
      return p.ready - p.busy;
    }),
  });
  gauge(registry, {
    name: 'mikrotik_connection_pool_total',
    help: 'Router sessions logged in or opening.',
    labelNames: router,
    read: perRouter((r) => {
      const p = r.pool();
      return p.ready + p.opening;
    }),
  });
  gauge(registry, {
    name: 'mikrotik_connection_pool_waiting',
    help: 'Commands waiting for a router session.',
    labelNames: router,
    read: perRouter((r) => r.pool().waiting),
  });
  gauge(registry, {
    name: 'rosgate_connection_pool_longest_wait_seconds',
    help: 'How long the longest-waiting command has waited for a router session.',
    labelNames: router,
    read: perRouter((r) => r.pool().longestWaitMs / 1000),
  });
  counter(registry, {
    name: 'rosgate_router_sessions_opened_total',
    help: 'Router sessions opened.',
    labelNames: router,
    read: perRouter((r) => r.pool().opened),
  });
  counter(registry, {
    name: 'rosgate_router_connect_failures_total',
    help: 'Router connects or logins that failed.',
    labelNames: router,
    read: perRouter((r) => r.pool().failedConnects),
  });
  gauge(registry, {
    name: 'rosgate_router_up',
    help: '1 when at least one session to the router is logged in, else 0.',
    labelNames: router,
    read: perRouter((r) => (r.pool().ready > 0 ? 1 : 0)),
  });
}

/** The circuit breaker's state and counts. */
function registerBreakerSeries({ registry, router, perRouter }: SeriesContext): void {
  // Circuit breaker.
  gauge(registry, {
    name: 'mikrotik_circuit_breaker_state',
    help: 'Circuit breaker state: 0 closed, 1 open, 2 half-open.',
    labelNames: router,
    read: perRouter((r) => {
      const b = r.breaker?.();
      return b === undefined ? undefined : BREAKER_STATE_VALUE[b.state];
    }),
  });
  counter(registry, {
    name: 'mikrotik_circuit_breaker_failures_total',
    help: 'Failures the circuit breaker counted (transport errors, timeouts, !fatal).',
    labelNames: router,
    read: perRouter((r) => r.breaker?.().failures),
  });
  counter(registry, {
    name: 'rosgate_circuit_breaker_transitions_total',
    help: 'Circuit breaker state changes.',
    labelNames: router,
    read: perRouter((r) => r.breaker?.().transitions),
  });
}

/** The reply cache's figures. */
function registerCacheSeries({ registry, router, perRouter }: SeriesContext): void {
  // Cache.
  const cache = (
    name: string,
    help: string,
    pick: (c: NonNullable<ReturnType<NonNullable<RouterSource['cache']>>>) => number,
    isCounter: boolean,
  ): void =>
    (isCounter ? counter : gauge)(registry, {
      name,
      help,
      labelNames: router,
      read: perRouter((r) => {
        const c = r.cache?.();
        return c === undefined ? undefined : pick(c);
      }),
    });
  cache('mikrotik_cache_hits_total', 'Prints answered from the cache.', (c) => c.hits, true);
  cache(
    'mikrotik_cache_misses_total',
    'Cacheable prints sent to the router.',
    (c) => c.misses,
    true,
  );
  cache('mikrotik_cache_size', 'Replies held in the cache.', (c) => c.entries, false);
  cache(
    'mikrotik_cache_evictions_total',
    'Replies evicted to stay in bounds.',
    (c) => c.evictions,
    true,
  );
  cache('rosgate_cache_bytes', 'Bytes held in the cache.', (c) => c.bytes, false);
  cache(
    'rosgate_cache_coalesced_total',
    'Prints answered by joining an identical one on its way.',
    (c) => c.coalesced,
    true,
  );
  cache(
    'rosgate_cache_stale_served_total',
    'Expired replies served while the router was away.',
    (c) => c.staleServed,
    true,
  );
  cache(
    'rosgate_cache_invalidations_total',
    'Cached replies dropped because a write changed their menu.',
    (c) => c.invalidations,
    true,
  );
}

/** The flow stage: rate limit, queue, commands in flight, timeouts. */
function registerFlowSeries({
  registry,
  router,
  perRouter,
  perRouterMany,
  byRecord,
}: SeriesContext): void {
  // Rate limit and queue.
  gauge(registry, {
    name: 'rosgate_ratelimit_queue_length',
    help: 'Commands waiting in the rate-limit queue, by priority.',
    labelNames: ['router', 'priority'],
    read: perRouterMany((r) => {
      const f = r.flow?.();
      return f && PRIORITIES.map((p): Sample => [{ priority: p }, f.queued[p]]);
    }),
  });
  counter(registry, {
    name: 'rosgate_ratelimit_refusals_total',
    help: 'Commands the flow stage refused, by reason.',
    labelNames: ['router', 'reason'],
    read: perRouterMany((r) => {
      const f = r.flow?.();
      return f && byRecord(f.refusals, 'reason');
    }),
  });
  gauge(registry, {
    name: 'rosgate_ratelimit_tokens',
    help: 'Tokens left in the rate-limit bucket.',
    labelNames: router,
    read: perRouter((r) => r.flow?.().tokens),
  });
  gauge(registry, {
    name: 'rosgate_flow_in_flight',
    help: 'Commands let through the flow stage and not yet answered.',
    labelNames: router,
    read: perRouter((r) => r.flow?.().inFlight),
  });
  counter(registry, {
    name: 'rosgate_command_timeouts_total',
    help: 'Commands that got no reply in time and were cancelled on the router.',
    labelNames: router,
    read: perRouter((r) => r.flow?.().timeouts),
  });
}

/** Policy decisions, input failures, flags and lockouts. */
function registerPolicySeries({
  registry,
  router,
  perRouter,
  perRouterMany,
  byRecord,
}: SeriesContext): void {
  // Policy.
  counter(registry, {
    name: 'rosgate_policy_decisions_total',
    help: 'Policy decisions, by rule and verdict.',
    labelNames: ['router', 'rule', 'verdict'],
    read: perRouterMany((r) =>
      r.policy?.().decisions.map((d): Sample => [{ rule: d.rule, verdict: d.verdict }, d.count]),
    ),
  });
  counter(registry, {
    name: 'rosgate_policy_input_failures_total',
    help: 'Attribute values refused by an input rule.',
    labelNames: router,
    read: perRouter((r) => r.policy?.().inputFailures),
  });
  counter(registry, {
    name: 'rosgate_policy_flags_total',
    help: 'Suspicious commands flagged, by reason.',
    labelNames: ['router', 'reason'],
    read: perRouterMany((r) => {
      const p = r.policy?.();
      return p && byRecord(p.flags, 'reason');
    }),
  });
  counter(registry, {
    name: 'rosgate_lockouts_total',
    help: 'Addresses or users locked out after failed logins.',
    labelNames: router,
    read: perRouter((r) => r.policy?.().lockouts),
  });
}

/** Client connections and logins, as the proxy saw them. */
function registerClientSeries({ registry, router, perRouter, perRouterMany }: SeriesContext): void {
  // Clients.
  gauge(registry, {
    name: 'rosgate_client_connections',
    help: 'Clients connected now.',
    labelNames: router,
    read: perRouter((r) => r.proxy().clientsConnected),
  });
  counter(registry, {
    name: 'rosgate_client_connections_accepted_total',
    help: 'Client connections accepted.',
    labelNames: router,
    read: perRouter((r) => r.proxy().clientsAccepted),
  });
  counter(registry, {
    name: 'rosgate_client_connections_refused_total',
    help: 'Client connections refused (too many in total or from one address).',
    labelNames: router,
    read: perRouter((r) => r.proxy().clientsRefused),
  });
  counter(registry, {
    name: 'rosgate_logins_total',
    help: 'Client logins, by result.',
    labelNames: ['router', 'result'],
    read: perRouterMany((r) => {
      const p = r.proxy();
      return [
        [{ result: 'ok' }, p.loginsOk],
        [{ result: 'failed' }, p.loginsFailed],
      ];
    }),
  });
  counter(registry, {
    name: 'rosgate_client_in_flight_refusals_total',
    help: 'Commands refused because their client had too many running.',
    labelNames: router,
    read: perRouter((r) => r.proxy().refusedInFlight),
  });
  counter(registry, {
    name: 'rosgate_slow_client_drops_total',
    help: 'Clients disconnected for reading their replies too slowly.',
    labelNames: router,
    read: perRouter((r) => r.proxy().slowClientDrops),
  });
  counter(registry, {
    name: 'rosgate_client_framing_errors_total',
    help: 'Clients disconnected for breaking the protocol framing.',
    labelNames: router,
    read: perRouter((r) => r.proxy().framingErrors),
  });
  counter(registry, {
    name: 'rosgate_tls_handshake_errors_total',
    help: 'TLS client handshakes that failed.',
    labelNames: router,
    read: perRouter((r) => r.proxy().tlsHandshakeErrors),
  });
}

/** Commands by verb class, outcome and error code, from the traffic tallies. */
function registerCommandSeries({
  registry,
  perRouterMany,
  byRecord,
  traffic,
}: SeriesContext): void {
  // Commands, as the metrics stage saw them.
  counter(registry, {
    name: 'mikrotik_requests_total',
    help: 'Client commands, by verb class and outcome.',
    labelNames: ['router', 'verb_class', 'outcome'],
    read: perRouterMany((r) => {
      const { requests } = traffic.of(r.name);
      return VERB_CLASSES.flatMap((verbClass) =>
        OUTCOMES.map((outcome): Sample => [
          { verb_class: verbClass, outcome },
          requests[verbClass][outcome],
        ]),
      );
    }),
  });
  counter(registry, {
    name: 'mikrotik_request_errors_total',
    help: 'Client commands refused or failed, by rosgate error code.',
    labelNames: ['router', 'code'],
    read: perRouterMany((r) => {
      const errors = traffic.of(r.name).errors;
      const codes = new Set([...REQUEST_ERROR_CODES, ...errors.keys()]);
      return [...codes].map((code): Sample => [{ code }, errors.get(code) ?? 0]);
    }),
  });
  counter(registry, {
    name: 'rosgate_slow_commands_total',
    help: 'Commands slower than the slow-command threshold, by verb class (streams excluded).',
    labelNames: ['router', 'verb_class'],
    read: perRouterMany((r) => byRecord(traffic.of(r.name).slow, 'verb_class')),
  });
}

/** Active users and vouchers, from the traffic tallies. */
function registerBusinessSeries({ registry, router, perRouter, traffic }: SeriesContext): void {
  // Business figures: NaN (present, but unknown) until the first count.
  gauge(registry, {
    name: 'mikrotik_active_users_hotspot',
    help: 'Rows of the latest full print of /ip/hotspot/active; NaN until the first count.',
    labelNames: router,
    read: perRouter((r) => traffic.of(r.name).activeUsers.hotspot?.count ?? NaN),
  });
  gauge(registry, {
    name: 'mikrotik_active_users_pppoe',
    help: 'Rows of the latest full print of /ppp/active; NaN until the first count.',
    labelNames: router,
    read: perRouter((r) => traffic.of(r.name).activeUsers.pppoe?.count ?? NaN),
  });
  counter(registry, {
    name: 'mikrotik_vouchers_created_total',
    help: 'Successful /ip/hotspot/user/add commands.',
    labelNames: router,
    read: perRouter((r) => traffic.of(r.name).vouchersCreated),
  });
}

/** App-wide series: the audit trail and the configuration reloads. */
function registerAppSeries({ registry, sources, state }: SeriesContext): void {
  // App-wide.
  const readAudit = sources.audit?.bind(sources);
  if (readAudit !== undefined) {
    counter(registry, {
      name: 'rosgate_audit_records_written_total',
      help: 'Audit records written.',
      labelNames: [],
      *read() {
        yield [{}, readAudit().written];
      },
    });
    counter(registry, {
      name: 'rosgate_audit_records_dropped_total',
      help: 'Audit records dropped because the buffer was full.',
      labelNames: [],
      *read() {
        yield [{}, readAudit().dropped];
      },
    });
    counter(registry, {
      name: 'rosgate_audit_file_replaced_total',
      help: 'Times the live audit file was found replaced or removed on disk; the chain went on in a new file.',
      labelNames: [],
      *read() {
        yield [{}, readAudit().fileReplaced ?? 0];
      },
    });
  }
  gauge(registry, {
    name: 'rosgate_config_last_reload_successful',
    help: '1 when the last configuration reload succeeded, else 0.',
    labelNames: [],
    *read() {
      yield [{}, state.isLastReloadOk() ? 1 : 0];
    },
  });
  gauge(registry, {
    name: 'rosgate_config_last_reload_success_timestamp_seconds',
    help: 'When the configuration was last loaded successfully.',
    labelNames: [],
    *read() {
      yield [{}, state.lastReloadSuccessAt() / 1000];
    },
  });
}
