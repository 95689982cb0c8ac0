/**
 * The admin port: a small node:http server for /monitoring/*. Everything
 * answers JSON except `metrics` (Prometheus text) and `dashboard` (HTML for
 * browsers). A bearer token guards all but `live`, `ready`, `health` and
 * `metrics` (each can be made to need it too); with no token configured,
 * loopback may read the dashboard, `statistics` and `status`. Bad input gets
 * `{ error, field }` with a 4xx, and no answer ever carries a stack or a secret.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import {
  redactConfig,
  type MonitoringConfig,
  type OpenEndpoint,
  type RosgateConfig,
} from '../config/index.js';
import { AdminAuth, isLoopback } from './admin-auth.js';
import { auditReportQuery, auditSearchQuery, parseInput } from './audit-query.js';
import { cacheFlushBody } from './cache-flush.js';
import { DASHBOARD_CSP, DASHBOARD_HTML } from './dashboard-page.js';
import { endClients, listClients, type ClientControl } from './clients.js';
import { clearLockouts, listLockouts, type ClearLockouts } from './lockouts.js';
import { HttpProblem, readJsonBody, send, sendJson } from './http-reply.js';
import type { Metrics } from './metrics.js';
import {
  businessReport,
  degradedReasons,
  healthReport,
  performanceReport,
  poolsReport,
  readinessProblems,
  statisticsReport,
  statusReport,
} from './reports.js';
import type { AdminSources, ApplyConfig, AuditFunctions } from './sources.js';

export interface AdminServerOptions {
  /** Address, port, token and what it guards: `config.monitoring`. */
  readonly monitoring: MonitoringConfig;
  /** rosgate's version, shown by `status`. */
  readonly version: string;
  readonly sources: AdminSources;
  readonly metrics: Metrics;
  /** The configuration now in force (it changes on reload). */
  config(): RosgateConfig;
  /** Applies `PUT /monitoring/config/<section>`. */
  readonly applyConfig: ApplyConfig;
  /** The audit module's search, report and head; absent when audit is off (those endpoints 404). */
  readonly audit?: AuditFunctions;
  /**
   * Drops cached replies of `path` (a menu or glob) and/or `router`, or all;
   * returns how many, or undefined while the cache is off (`cache/flush`
   * 404s). Absent, it always 404s.
   */
  readonly flushCache?: (
    path: string | undefined,
    router: string | undefined,
  ) => number | undefined;
  /** Ends login lockouts (`DELETE /monitoring/lockouts`); absent, that 404s. */
  readonly clearLockouts?: ClearLockouts;
  /** The connected clients (`GET /monitoring/clients`) and their ending (`DELETE`); absent, none and 404. */
  readonly clients?: ClientControl;
  readonly logger: Logger;
  /** Largest request body accepted. @default 65536 */
  readonly maxBodyBytes?: number;
}

/** A running admin port. */
export interface AdminServer {
  /** Starts listening; resolves with the port (useful with port 0). */
  listen(): Promise<number>;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** What an endpoint answers. */
type Answer =
  | { readonly status?: number; readonly json: unknown; readonly headers?: Record<string, string> }
  | {
      readonly status?: number;
      readonly text: string;
      readonly contentType: string;
      readonly headers?: Record<string, string>;
    };

interface Request {
  readonly req: IncomingMessage;
  readonly url: URL;
  /** The `<section>` of `/monitoring/config/<section>`; '' elsewhere. */
  readonly section: string;
}

type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';
type Endpoint = (request: Request) => Answer | Promise<Answer>;

interface Route {
  readonly methods: Partial<Record<Method, Endpoint>>;
  /** Set on the endpoints open by default. */
  readonly open?: OpenEndpoint;
  /** The dashboard accepts `?token=` once, to set its session cookie. */
  readonly isTokenInQuery?: boolean;
  /** With no token configured, a GET from loopback is served (the dashboard and what it reads). */
  readonly isLoopbackReadable?: boolean;
}

const PREFIX = '/monitoring/';
const SECTION_PATTERN = /^[a-zA-Z][a-zA-Z0-9]{0,63}$/;

/** `flow.rateLimit.bucketSize must be >= 1` -> `flow.rateLimit.bucketSize`. */
function fieldOf(problem: string): string {
  return problem.split(' ', 1)[0] as string;
}

function acceptsHtml(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').includes('text/html');
}

/** What the routes and the request handling are built from. */
interface AdminContext {
  readonly options: AdminServerOptions;
  readonly monitoring: MonitoringConfig;
  readonly sources: AdminSources;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly auth: AdminAuth;
  /** The open endpoints that need the token all the same. */
  readonly requireTokenFor: ReadonlySet<OpenEndpoint>;
  readonly isRouterRequired: boolean;
  readonly maxBodyBytes: number;
  /** The answer of `statistics` (the dashboard's too, to a client that is no browser). */
  readonly statistics: () => Answer;
  /** The audit functions; throws the 404 when audit is off. */
  readonly audit: () => AuditFunctions;
}

/** A path under /monitoring/ and its route. */
type RouteEntry = readonly [string, Route];

/** The options, and what every request needs from them. */
function adminContext(options: AdminServerOptions): AdminContext {
  const { monitoring, sources, metrics, logger } = options;
  const auth = new AdminAuth(monitoring.token);
  const requireTokenFor = new Set(monitoring.requireTokenFor ?? []);
  const isRouterRequired = monitoring.readiness?.requireRouter ?? false;
  const maxBodyBytes = options.maxBodyBytes ?? 65_536;
  const statistics = (): Answer => ({
    json: statisticsReport(sources, metrics, options.version),
  });
  const audit = (): AuditFunctions => {
    if (options.audit === undefined) throw new HttpProblem(404, 'path', 'audit is off');
    return options.audit;
  };
  return {
    options,
    monitoring,
    sources,
    metrics,
    logger,
    auth,
    requireTokenFor,
    isRouterRequired,
    maxBodyBytes,
    statistics,
    audit,
  };
}

/** `PUT /monitoring/config/<section>`. */
function configSectionRoute({ options, logger, maxBodyBytes }: AdminContext): Route {
  return {
    methods: {
      PUT: async ({ req, section }) => {
        if (!SECTION_PATTERN.test(section)) {
          throw new HttpProblem(400, 'section', 'the section must be a configuration key');
        }
        const body = await readJsonBody(req, maxBodyBytes);
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw new HttpProblem(400, 'body', 'the body must be a JSON object');
        }
        const result = await options.applyConfig(section, body);
        if (!result.ok) {
          logger.warn({ section, problems: result.errors.length }, 'configuration change refused');
          return {
            status: 400,
            json: {
              error: 'the configuration was not changed',
              field: fieldOf(result.errors[0] ?? section),
              errors: result.errors,
            },
          };
        }
        // Each changed key, its old and new value (redacted) and when it applies.
        const changes = result.changes ?? [];
        logger.info(
          { section, keys: changes.map((c) => c.key) },
          'configuration changed through the admin port',
        );
        return { json: { ok: true, section, changes } };
      },
    },
  };
}

/** The probes: `live`, `ready`, `metrics`, `health`. */
function probeRoutes({ sources, metrics, isRouterRequired }: AdminContext): RouteEntry[] {
  return [
    ['live', { open: 'live', methods: { GET: () => ({ json: { status: 'live' } }) } }],
    [
      'ready',
      {
        open: 'ready',
        methods: {
          GET: () => {
            const problems = readinessProblems(sources, isRouterRequired);
            const reasons = degradedReasons(sources);
            if (problems.length > 0)
              return { status: 503, json: { status: 'not ready', problems } };
            // Redis away: the replica still serves, on its share.
            return reasons.length === 0
              ? { json: { status: 'ready' } }
              : { json: { status: 'degraded', reasons } };
          },
        },
      },
    ],
    [
      'metrics',
      {
        open: 'metrics',
        methods: {
          GET: async () => ({
            text: await metrics.registry.metrics(),
            contentType: metrics.registry.contentType,
          }),
        },
      },
    ],
    ['health', { open: 'health', methods: { GET: () => ({ json: healthReport(sources) }) } }],
  ];
}

/** The figures: `status`, `statistics`, `performance`, `business`, `pools`, `dashboard`. */
function figureRoutes({ options, sources, metrics, auth, statistics }: AdminContext): RouteEntry[] {
  return [
    [
      'status',
      {
        isLoopbackReadable: true,
        methods: { GET: () => ({ json: statusReport(sources, metrics, options.version) }) },
      },
    ],
    ['statistics', { isLoopbackReadable: true, methods: { GET: statistics } }],
    ['performance', { methods: { GET: () => ({ json: performanceReport(sources, metrics) }) } }],
    ['business', { methods: { GET: () => ({ json: businessReport(sources, metrics) }) } }],
    ['pools', { methods: { GET: () => ({ json: poolsReport(sources) }) } }],
    [
      'dashboard',
      {
        isTokenInQuery: true,
        isLoopbackReadable: true,
        methods: {
          GET: ({ req, url }) => {
            if (url.searchParams.has('token') && auth.isConfigured) {
              // Swap the token in the address for a session cookie, and drop it from the address.
              return {
                status: 303,
                text: '',
                contentType: 'text/plain',
                headers: { location: '/monitoring/dashboard', 'set-cookie': auth.sessionCookie() },
              };
            }
            if (!acceptsHtml(req)) return statistics();
            return {
              text: DASHBOARD_HTML,
              contentType: 'text/html; charset=utf-8',
              headers: {
                'content-security-policy': DASHBOARD_CSP,
                'referrer-policy': 'no-referrer',
              },
            };
          },
        },
      },
    ],
  ];
}

/** `config`: the configuration in force, redacted. */
function configRoutes({ options }: AdminContext): RouteEntry[] {
  return [['config', { methods: { GET: () => ({ json: redactConfig(options.config()) }) } }]];
}

/** The audit trail: `audit-logs`, `audit-report`, `audit/head`. */
function auditRoutes({ audit, maxBodyBytes }: AdminContext): RouteEntry[] {
  return [
    [
      'audit-logs',
      {
        methods: {
          GET: async ({ url }) => {
            const functions = audit();
            const raw = new Map<string, string>();
            for (const [key, value] of url.searchParams) {
              if (raw.has(key)) throw new HttpProblem(400, key, `${key} may be given only once`);
              raw.set(key, value);
            }
            const query = parseInput(auditSearchQuery, Object.fromEntries(raw), 'query');
            if (!query.ok) throw new HttpProblem(400, query.problem.field, query.problem.error);
            return { json: await functions.search(query.value) };
          },
        },
      },
    ],
    [
      'audit-report',
      {
        methods: {
          POST: async ({ req }) => {
            const functions = audit();
            const query = parseInput(
              auditReportQuery,
              await readJsonBody(req, maxBodyBytes),
              'body',
            );
            if (!query.ok) throw new HttpProblem(400, query.problem.field, query.problem.error);
            return { json: await functions.report(query.value) };
          },
        },
      },
    ],
    ['audit/head', { methods: { GET: async () => ({ json: await audit().head() }) } }],
  ];
}

/** `cache/flush`. */
function cacheRoutes({ options, maxBodyBytes }: AdminContext): RouteEntry[] {
  return [
    [
      'cache/flush',
      {
        methods: {
          POST: async ({ req }) => {
            const body = parseInput(cacheFlushBody, await readJsonBody(req, maxBodyBytes), 'body');
            if (!body.ok) throw new HttpProblem(400, body.problem.field, body.problem.error);
            const flushed = options.flushCache?.(body.value.path, body.value.router);
            if (flushed === undefined) throw new HttpProblem(404, 'path', 'the cache is off');
            return { json: { flushed } };
          },
        },
      },
    ],
  ];
}

/** `lockouts`: list and clear login lockouts. */
function lockoutRoutes({ options, sources }: AdminContext): RouteEntry[] {
  return [
    [
      'lockouts',
      {
        methods: {
          GET: ({ url }) => ({ json: listLockouts(sources.lockouts?.() ?? [], url) }),
          DELETE: async ({ req, url }) => ({
            json: await clearLockouts(options.clearLockouts, url, req.socket.remoteAddress),
          }),
        },
      },
    ],
  ];
}

/** `clients`: list the connected clients and end some of them. */
function clientRoutes({ options }: AdminContext): RouteEntry[] {
  return [
    [
      'clients',
      {
        methods: {
          GET: ({ url }) => ({ json: listClients(options.clients, url) }),
          DELETE: ({ req, url }) => ({
            json: endClients(options.clients, url, req.socket.remoteAddress),
          }),
        },
      },
    ],
  ];
}

/** Throws the 401 or 403 a request without the right credentials gets. */
function authorizer({
  auth,
  requireTokenFor,
  logger,
}: AdminContext): (route: Route, req: IncomingMessage, url: URL) => void {
  return function authorize(route: Route, req: IncomingMessage, url: URL): void {
    if (route.open !== undefined && !requireTokenFor.has(route.open)) return;
    if (!auth.isConfigured) {
      const isLocalRead = req.method === 'GET' && isLoopback(req.socket.remoteAddress);
      if (route.isLoopbackReadable === true && isLocalRead) return;
      throw new HttpProblem(
        403,
        'authorization',
        'no admin token is configured (set MONITORING_TOKEN)',
      );
    }
    if (auth.isAuthorization(req.headers.authorization)) return;
    // The cookie only reads: a change needs the header, so no other page can make one.
    if (req.method === 'GET' && auth.isSessionCookie(req.headers.cookie)) return;
    const queryToken = url.searchParams.get('token');
    if (route.isTokenInQuery === true && queryToken !== null && auth.isToken(queryToken)) return;
    logger.warn(
      { address: req.socket.remoteAddress, path: url.pathname },
      'admin request without a valid token',
    );
    throw new HttpProblem(401, 'authorization', 'a valid bearer token is required', {
      'www-authenticate': 'Bearer realm="rosgate"',
    });
  };
}

/** Answers a request: finds its route, checks its credentials, logs how it went. */
function requestHandler(
  context: AdminContext,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { metrics, logger } = context;
  const configSection = configSectionRoute(context);
  const routes = new Map<string, Route>([
    ...probeRoutes(context),
    ...figureRoutes(context),
    ...configRoutes(context),
    ...auditRoutes(context),
    ...cacheRoutes(context),
    ...lockoutRoutes(context),
    ...clientRoutes(context),
  ]);
  const authorize = authorizer(context);

  /** The route for a path, and the section of a config PUT. */
  function resolve(pathname: string): { route: Route; section: string } | undefined {
    if (!pathname.startsWith(PREFIX)) return undefined;
    const name = pathname.slice(PREFIX.length);
    const exact = routes.get(name);
    if (exact !== undefined) return { route: exact, section: '' };
    if (name.startsWith('config/')) {
      return { route: configSection, section: name.slice('config/'.length) };
    }
    return undefined;
  }

  async function answer(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const found = resolve(url.pathname);
    if (found === undefined) throw new HttpProblem(404, 'path', 'no such endpoint');
    const { methods } = found.route;
    const method = req.method as Method;
    const endpoint = Object.hasOwn(methods, method) ? methods[method] : undefined;
    if (endpoint === undefined) {
      const allowed = Object.keys(methods).join(', ');
      throw new HttpProblem(405, 'method', `use ${allowed}`, { allow: allowed });
    }
    authorize(found.route, req, url);
    const a = await endpoint({ req, url, section: found.section });
    if ('json' in a) sendJson(res, a.status ?? 200, a.json, a.headers);
    else send(res, a.status ?? 200, a.contentType, a.text, a.headers);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = metrics.now();
    // Only the path is kept for logs: a query may hold the dashboard token.
    // A target not in origin form (`GET http://host/...`) is treated as `/`.
    const target = req.url?.startsWith('/') === true ? req.url : '/';
    const url = new URL(`http://admin.invalid${target}`);
    res.on('close', () => {
      if (!res.writableFinished) {
        logger.debug(
          { method: req.method, path: url.pathname },
          'admin client left before its answer',
        );
      }
    });
    res.on('finish', () => {
      logger.debug(
        {
          method: req.method,
          path: url.pathname,
          status: res.statusCode,
          durationMs: metrics.now() - startedAt,
        },
        'admin request',
      );
    });
    try {
      await answer(req, res, url);
    } catch (err) {
      if (err instanceof HttpProblem) {
        sendJson(res, err.status, { error: err.message, field: err.field }, err.headers);
      } else {
        logger.error({ err, path: url.pathname }, 'admin request failed');
        sendJson(res, 500, { error: 'internal error' });
      }
    }
  }
  return handle;
}

export function createAdminServer(options: AdminServerOptions): AdminServer {
  const { monitoring, logger } = options;
  const handle = requestHandler(adminContext(options));
  const server = http.createServer((req, res) => void handle(req, res));
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;

  return {
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(monitoring.port, monitoring.host, () => {
          server.off('error', reject);
          server.on('error', (err) => logger.error({ err }, 'admin port error'));
          const { port } = server.address() as AddressInfo;
          logger.info({ host: monitoring.host, port }, 'admin port listening on /monitoring');
          resolve(port);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
