import { describe, expect, it } from 'vitest';
import { ApiError, errorTitle, lockoutMinutes, toApiError } from './errors';
import coreCodes from './bindings/ErrorCode.ts?raw';
import desktopCodes from './bindings/DesktopErrorCode.ts?raw';

// The string literals of a generated union type (`export type X = "a" | "b";`).
const literals = (ts: string) => [...(/export type \w+ = ([^;]+);/.exec(ts)?.[1] ?? '').matchAll(/"([a-z_]+)"/g)].map((m) => m[1]);

describe('toApiError', () => {
  it('keeps the code and message the Rust side sends', () => {
    const e = toApiError({ code: 'conflict', message: 'a user with email a@b.c already exists' });
    expect(e).toBeInstanceOf(ApiError);
    expect(e.code).toBe('conflict');
    expect(e.message).toBe('a user with email a@b.c already exists');
  });
  it('turns IPC strings and JS errors into readable ApiErrors', () => {
    expect(toApiError('command users_lst not found').code).toBe('ipc');
    expect(toApiError('invalid args `id` for command `users_get`: missing required key id').message).toMatch(/malformed request/);
    expect(toApiError(new TypeError('boom')).message).toBe('boom');
    const u = toApiError(undefined);
    expect(u.code).toBe('unknown');
    expect(u.message).not.toMatch(/undefined|\[object/);
  });
  it('passes ApiErrors through unchanged', () => {
    const e = new ApiError('forbidden', 'no');
    expect(toApiError(e)).toBe(e);
  });
});

describe('lockout', () => {
  it('reads the remaining minutes from the core message', () => {
    const e = toApiError({ code: 'locked_out', message: 'account locked after too many failed logins; try again in 14 minute(s) (at 2026-11-26 08:00:00 UTC)' });
    expect(lockoutMinutes(e)).toBe(14);
    expect(errorTitle(e.code)).toBe('Account locked');
    expect(lockoutMinutes(new ApiError('invalid', 'x'))).toBeNull();
    const s = toApiError({ code: 'locked_out', message: 'account locked', retry_after_minutes: 3 });
    expect(lockoutMinutes(s)).toBe(3);
  });
});

describe('errorTitle', () => {
  it('has a title for every code the core and the desktop can send', () => {
    const codes = [...literals(coreCodes), ...literals(desktopCodes), 'ipc', 'unknown'];
    expect(literals(coreCodes)).toContain('not_found');
    expect(literals(desktopCodes)).toContain('not_postgres');
    for (const c of codes) expect(errorTitle(c), c).not.toBe('Error');
  });
  it('falls back to a plain title for a code it does not know', () => {
    expect(errorTitle('from_a_newer_core')).toBe('Error');
    expect(errorTitle('toString')).toBe('Error');
  });
});
