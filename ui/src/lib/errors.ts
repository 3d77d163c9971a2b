// Errors crossing from the Rust core: `{code, message}`. Anything else (a string thrown by the
// IPC layer, a JS Error) is normalised so the UI always has a code to switch on and a
// readable message to show, never a raw debug dump.

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

/** A short title for a toast, by error code. */
export function errorTitle(code: string): string {
  switch (code) {
    case 'invalid': return 'Check the input';
    case 'not_found': return 'Not found';
    case 'conflict': return 'Conflict';
    case 'forbidden': return 'Not allowed';
    case 'unauthenticated': return 'Please log in';
    case 'bad_credentials': return 'Login failed';
    case 'locked_out': return 'Account locked';
    case 'account_disabled': return 'Account disabled';
    case 'server_unreachable': return 'Server unreachable';
    case 'read_only': return 'Read-only standby';
    case 'step_up': return 'Password needed';
    case 'approval_filed': return 'Filed for approval';
    case 'database_auth': return 'Database login refused';
    case 'keychain': return 'Keychain unavailable';
    case 'not_postgres': return 'Needs PostgreSQL';
    case 'cancelled': return 'Cancelled';
    case 'disk_full': return 'Disk full';
    case 'service': return 'Service unavailable';
    case 'offline': return 'Working offline';
    case 'verification_failed': return 'Verification failed';
    default: return 'Error';
  }
}

/** Minutes left before a lockout ends (the structured field, else the core's message). */
export function lockoutMinutes(e: ApiError): number | null {
  if (e.code !== 'locked_out') return null;
  if (e.retryAfterMinutes !== null) return e.retryAfterMinutes;
  const m = /in (\d+) minute/.exec(e.message);
  return m ? Number(m[1]) : null;
}
