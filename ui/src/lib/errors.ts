// Errors crossing from the Rust core: `{code, message}`. Anything else (a string thrown by the
// IPC layer, a JS Error) is normalised so the UI always has a code to switch on and a
// readable message to show, never a raw debug dump.

import type { DesktopErrorCode } from './bindings/DesktopErrorCode';
import type { ErrorCode } from './bindings/ErrorCode';

export class ApiError extends Error {
  readonly code: string;
  /** For `locked_out`: minutes until the next login attempt is accepted. */
  readonly retryAfterMinutes: number | null;
  constructor(code: string, message: string, retryAfterMinutes: number | null = null) {
    super(message);
    this.code = code;
    this.name = 'ApiError';
    this.retryAfterMinutes = retryAfterMinutes;
  }
}

/** Normalises whatever `invoke()` rejected with. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const o = e as { code: unknown; message: unknown; retry_after_minutes?: unknown };
    const m = typeof o.retry_after_minutes === 'number' ? o.retry_after_minutes : null;
    return new ApiError(String(o.code), String(o.message), m);
  }
  if (typeof e === 'string') {
    // Tauri reports unknown commands and argument mismatches as plain strings.
    if (/missing required key|invalid args/i.test(e)) return new ApiError('ipc', `the app sent a malformed request: ${e}`);
    return new ApiError('ipc', e);
  }
  if (e instanceof Error) return new ApiError('ipc', e.message);
  return new ApiError('unknown', 'something went wrong (no details were given)');
}

/** Every code an error can carry: the core's and the desktop's (generated from Rust), and the
 * two this file gives errors that did not come from Rust. */
export type Code = ErrorCode | DesktopErrorCode | 'ipc' | 'unknown';

// A Record over the union: the compiler refuses a code without a title.
const TITLES: Record<Code, string> = {
  invalid: 'Check the input',
  not_found: 'Not found',
  conflict: 'Conflict',
  forbidden: 'Not allowed',
  unauthenticated: 'Please log in',
  step_up: 'Password needed',
  approval_filed: 'Filed for approval',
  bad_credentials: 'Login failed',
  locked_out: 'Account locked',
  account_disabled: 'Account disabled',
  server_unreachable: 'Server unreachable',
  read_only: 'Read-only standby',
  database_auth: 'Database login refused',
  config: 'Configuration problem',
  migration: 'Migration failed',
  migration_drift: 'Migration edited',
  disk_full: 'Disk full',
  local_store: 'Workspace unreadable',
  keychain: 'Keychain unavailable',
  io: 'File error',
  cancelled: 'Cancelled',
  service: 'Service unavailable',
  verification_failed: 'Verification failed',
  database: 'Database error',
  no_workspace: 'No workspace open',
  offline: 'Working offline',
  not_postgres: 'Needs PostgreSQL',
  ipc: 'App error',
  unknown: 'Unexpected error',
};

/** A short title for a toast, by error code ('Error' for a code this build does not know). */
export function errorTitle(code: string): string {
  return Object.prototype.hasOwnProperty.call(TITLES, code) ? TITLES[code as Code] : 'Error';
}

/** Minutes left before a lockout ends (the structured field, else the core's message). */
export function lockoutMinutes(e: ApiError): number | null {
  if (e.code !== 'locked_out') return null;
  if (e.retryAfterMinutes !== null) return e.retryAfterMinutes;
  const m = /in (\d+) minute/.exec(e.message);
  return m ? Number(m[1]) : null;
}
