/**
 * Live configuration: a change through the admin port (PUT) or a re-read
 * file (SIGHUP) is checked whole by src/reconfigure.ts, then applied to the
 * running objects, or by building a stage anew and swapping it into every
 * router's chain (docs/architecture.md, "Live changes").
 */
import type { Logger } from 'pino';
import type { ApplyConfigResult } from '../admin/index.js';
import type { RosgateConfig, RouterConfig } from '../config/index.js';
import { createCacheStage } from '../cache/index.js';
import {
  reconfigureAll,
  reconfigureSection,
  type AppliedSection,
  type Reconfiguration,
  type Reload,
} from '../reconfigure.js';
import { newFlowStage, retire, type RouterRuntime, type SharedStages } from './router-runtime.js';

/** What a reload (SIGHUP) answers: a change, and which admin-port changes it kept or overrode. */
export type ReloadResult =
  | (Extract<ApplyConfigResult, { ok: true }> & {
      readonly kept: readonly string[];
      readonly overridden: readonly string[];
    })
  | Extract<ApplyConfigResult, { ok: false }>;

/** The configuration in force, and the two ways it changes while rosgate runs. */
export interface LiveConfig {
  /** The configuration in force. */
  readonly current: RosgateConfig;
  /** Apply one section (PUT /monitoring/config/<section>); a refusal changes nothing. */
  reconfigure(section: string, body: unknown): ApplyConfigResult;
  /** Apply a re-read configuration (SIGHUP); a refusal changes nothing. */
  reload(next: RosgateConfig): ReloadResult;
}

/** The live configuration of an app whose routers and shared stages are given; none changes once `isStopping`. */
export function createLiveConfig(
  config: RosgateConfig,
  routers: readonly RouterRuntime[],
  shared: SharedStages,
  logger: Logger,
  isStopping: () => boolean,
): LiveConfig {
  let current = config;
  /** The configuration as the file and environment last gave it (at start, then each SIGHUP). */
  let loaded = config;
  const apply = (next: RosgateConfig, changed: readonly AppliedSection[]): void => {
    if (changed.includes('log')) logger.level = next.log.level;
    if (changed.includes('policy')) shared.policy.updateRules(next.policy);
    if (changed.includes('cache')) {
      const old = shared.cache;
      shared.cache = createCacheStage({ config: next.cache, logger, ...shared.cacheGroup });
      old.close(shared.cache);
    }
    for (const runtime of routers) {
      const routerConfig = next.routers.find((r) => r.name === runtime.config.name) as RouterConfig;
      if (changed.includes('routers')) runtime.pool.reconfigure(routerConfig.pool);
      if (changed.includes('limits')) runtime.applyLimits(next.limits);
      if (changed.includes('users')) runtime.applyUsers(next);
      if (changed.includes('flow')) {
        const old = runtime.flow;
        retire(old, logger, runtime.config.name);
        runtime.flow = newFlowStage(next, routerConfig, shared.events, logger, shared.group, old);
      }
      runtime.config = routerConfig;
      runtime.rebuild();
    }
    current = next;
  };
  const refuseWhileStopping = (what: string): Extract<ApplyConfigResult, { ok: false }> => {
    const errors = ['rosgate is stopping: nothing is changed now'];
    logger.warn({ errors }, `${what} refused; nothing changed`);
    return { ok: false, errors };
  };
  const settle = (result: Reconfiguration, what: string): ApplyConfigResult => {
    if (!result.isOk) {
      logger.warn({ errors: result.errors }, `${what} refused; nothing changed`);
      shared.metrics.recordReload(false, `${what} refused: ${result.errors.join('; ')}`);
      return { ok: false, errors: result.errors };
    }
    apply(result.config, result.changed);
    shared.audit.events.configChange({ keys: [...result.changed], source: what });
    const { changes } = result;
    logger.info({ keys: changes.map((c) => c.key), sections: result.changed }, `${what} applied`);
    const later = changes.filter((c) => c.applies === 'restart').map((c) => c.key);
    if (later.length > 0)
      logger.warn({ keys: later }, `${what}: these keys take effect only after a restart`);
    shared.metrics.recordReload(
      true,
      `${what} applied: ${result.changed.join(', ') || 'no change'}`,
    );
    return { ok: true, changes };
  };
  const settleReload = (result: Reload, fresh: RosgateConfig): ReloadResult => {
    const settled = settle(result, 'configuration reload');
    if (!settled.ok) return settled;
    loaded = fresh;
    const { kept, overridden } = result as Extract<Reload, { isOk: true }>;
    if (overridden.length > 0)
      logger.warn(
        { keys: overridden },
        'configuration reload: the file changed keys that were changed through the admin port; the file wins',
      );
    if (kept.length > 0)
      logger.info(
        { keys: kept },
        'configuration reload keeps changes made through the admin port to keys the file did not change',
      );
    return { ...settled, kept, overridden };
  };

  return {
    get current() {
      return current;
    },
    // Once stopping, nothing is built anew: a stage made now would outlive the stop.
    reconfigure: (section, body) =>
      isStopping()
        ? refuseWhileStopping(`configuration ${section}`)
        : settle(reconfigureSection(current, section, body), `configuration ${section}`),
    reload: (next) =>
      isStopping()
        ? refuseWhileStopping('configuration reload')
        : settleReload(reconfigureAll(current, loaded, next), next),
  };
}
