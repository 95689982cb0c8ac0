/**
 * Every error rosgate raises on purpose is a RosgateError with a fixed code.
 * Context travels in `details`, never spliced into the message, so logs and
 * metrics can group by code (the undici convention).
 */
export const ErrorCode = {
  /** A length prefix starts with a reserved control byte (0xF1-0xFF). */
  FramingControlByte: 'ROSGATE_FRAMING_CONTROL_BYTE',
  /** A word is longer than the configured limit. */
  WordTooLong: 'ROSGATE_WORD_TOO_LONG',
  /** A sentence holds more words than the configured limit. */
  TooManyWords: 'ROSGATE_TOO_MANY_WORDS',
  /** A sentence is longer (in bytes) than the configured limit. */
  SentenceTooLong: 'ROSGATE_SENTENCE_TOO_LONG',
  /** A sentence is structurally invalid (empty word list, bad first word). */
  BadSentence: 'ROSGATE_BAD_SENTENCE',
  /** Configuration is invalid; `details.problems` lists each path and rule. */
  Config: 'ROSGATE_CONFIG',
  /** The router refused our login. */
  UpstreamLogin: 'ROSGATE_UPSTREAM_LOGIN',
  /** The router connection failed or closed. */
  UpstreamClosed: 'ROSGATE_UPSTREAM_CLOSED',
  /** The router did not answer in time. */
  UpstreamTimeout: 'ROSGATE_UPSTREAM_TIMEOUT',
  /** No router session could be acquired in time. */
  AcquireTimeout: 'ROSGATE_ACQUIRE_TIMEOUT',
  /** The router sent something that breaks the protocol. */
  UpstreamProtocol: 'ROSGATE_UPSTREAM_PROTOCOL',
  /** The proxy is shutting down. */
  ShuttingDown: 'ROSGATE_SHUTTING_DOWN',
  /** A per-client limit (in-flight commands, output buffer) was exceeded. */
  ClientLimit: 'ROSGATE_CLIENT_LIMIT',
  /** Policy refused the command. */
  PolicyDenied: 'ROSGATE_POLICY_DENIED',
  /** The rate limiter refused the command. */
  RateLimited: 'ROSGATE_RATE_LIMITED',
  /** The circuit breaker is open. */
  BreakerOpen: 'ROSGATE_BREAKER_OPEN',
  /** A command got no reply from the router for too long, and was cancelled there. */
  CommandTimeout: 'ROSGATE_COMMAND_TIMEOUT',
  /** A command was cancelled before it reached the router. */
  Interrupted: 'ROSGATE_INTERRUPTED',
  /** A command arrived before the client logged in. */
  NotLoggedIn: 'ROSGATE_NOT_LOGGED_IN',
  /** Wrong user name or password. */
  LoginInvalid: 'ROSGATE_LOGIN_INVALID',
  /** The client did not log in in time. */
  LoginTimeout: 'ROSGATE_LOGIN_TIMEOUT',
  /** A legacy challenge login that rosgate cannot check (no plaintext secret known). */
  LegacyLoginUnsupported: 'ROSGATE_LEGACY_LOGIN_UNSUPPORTED',
  /** The source address or user is locked out after failed logins. */
  LockedOut: 'ROSGATE_LOCKED_OUT',
  /** An attribute value broke an input rule. */
  InputInvalid: 'ROSGATE_INPUT_INVALID',
  /** A client read its replies too slowly and was disconnected. */
  SlowClient: 'ROSGATE_SLOW_CLIENT',
  /** The answer rosgate gives node-routeros' `#` keepalive when configured to trap. */
  Keepalive: 'ROSGATE_KEEPALIVE',
  /** A client broke the protocol (framing, too many sentences before login). */
  ClientProtocol: 'ROSGATE_CLIENT_PROTOCOL',
  /** Too many connections (in total or from one address). */
  TooManyConnections: 'ROSGATE_TOO_MANY_CONNECTIONS',
  /** Something in rosgate itself failed; the details stay in the log. */
  Internal: 'ROSGATE_INTERNAL',
  /** Audit records were dropped: the audit disk is too slow or failing. */
  AuditDropped: 'ROSGATE_AUDIT_DROPPED',
  /** Writing the audit trail to disk failed. */
  AuditWrite: 'ROSGATE_AUDIT_WRITE',
  /** Another process holds the audit directory (its `rosgate.lock`). */
  AuditLocked: 'ROSGATE_AUDIT_LOCKED',
  /** The live audit file was replaced or removed on disk; the chain goes on in a new file. */
  AuditFileReplaced: 'ROSGATE_AUDIT_FILE_REPLACED',
  /** The oldest audit files were deleted to keep the trail within `audit.maxTotalBytes`. */
  AuditPruned: 'ROSGATE_AUDIT_PRUNED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class RosgateError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RosgateError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** True when `err` is a RosgateError, optionally with the given code. */
export function isRosgateError(err: unknown, code?: ErrorCode): err is RosgateError {
  return err instanceof RosgateError && (code === undefined || err.code === code);
}
