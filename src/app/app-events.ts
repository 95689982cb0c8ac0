/**
 * What happens to a running rosgate that both the audit trail records and
 * the dashboard shows (lockouts, breaker and router changes, the audit file
 * replaced on disk): each is told here once, and reaches both.
 */
import type { Metrics } from '../admin/index.js';
import type { AuditFileReplacedEvent, AuditTrail } from '../audit/index.js';
import type { BreakerStateChange } from '../flow/index.js';
import type { LockoutEvent } from '../policy/index.js';
import { ErrorCode } from '../errors.js';

/** The app's events, each to the audit trail (where it has a record) and the dashboard. */
export interface AppEvents {
  lockout(event: LockoutEvent & { readonly router: string }): void;
  breakerChange(change: BreakerStateChange): void;
  routerChange(router: string, state: 'down' | 'up', code?: string): void;
  auditFileReplaced(event: AuditFileReplacedEvent): void;
}

/**
 * The events of one app. `audit` is read at each event: the trail is built
 * after the metrics it tells about a replaced file.
 */
export function createAppEvents(audit: () => AuditTrail, metrics: Metrics): AppEvents {
  return {
    lockout(event) {
      audit().events.lockout(event);
      metrics.recordEvent({ kind: 'lockout', router: event.router, message: lockoutText(event) });
    },
    breakerChange(change) {
      audit().events.breakerChange(change);
      metrics.recordEvent({
        kind: 'breaker',
        router: change.router,
        message: `circuit ${change.from} -> ${change.to}: ${change.reason}`,
      });
    },
    routerChange(router, state, code) {
      audit().events.routerChange({ router, state, ...(code === undefined ? {} : { code }) });
      metrics.recordEvent({
        kind: 'router',
        router,
        message: routerChangeMessage(state, code),
      });
    },
    auditFileReplaced(event) {
      // The trail records this itself, in the file that continues the chain.
      metrics.recordEvent({
        kind: 'audit',
        message: `audit file ${event.file} ${event.reason} on disk; the chain continues in ${event.next}`,
      });
    },
  };
}

function lockoutText(event: LockoutEvent): string {
  if (event.scope === 'source') return `address ${String(event.address)} locked out`;
  if (event.scope === 'user') return `user ${String(event.user)} locked out`;
  return `user ${String(event.user)} from ${String(event.address)} locked out`;
}

/** The dashboard's line for a router going down or coming back. */
function routerChangeMessage(state: 'down' | 'up', code: string | undefined): string {
  if (state === 'up') return 'router reachable again';
  return code === ErrorCode.UpstreamLogin
    ? `router refused rosgate's login (${code})`
    : `router unreachable (${code})`;
}
