import { describe, expect, it } from 'vitest';
import { lockedHint, mayOpen, roleLine } from './access';

// The built-in roles' permissions as crates/core/src/auth/rbac.rs grants them.
const EMPLOYEE = ['projects.read', 'tasks.read_own', 'tasks.review_own', 'sync.run'];
const SUPPORT = ['users.read', 'gdpr.read', 'gdpr.handle'];

describe('access', () => {
  it('opens a screen with any one of the permissions it needs', () => {
    expect(mayOpen(EMPLOYEE, 'tasks')).toBe(true);
    expect(mayOpen(EMPLOYEE, 'sync')).toBe(true);
    expect(mayOpen(EMPLOYEE, 'users')).toBe(false);
    expect(mayOpen(SUPPORT, 'users')).toBe(true);
    expect(mayOpen(SUPPORT, 'gdpr')).toBe(true);
    expect(mayOpen(SUPPORT, 'audit')).toBe(false);
    expect(mayOpen(SUPPORT, 'tasks')).toBe(false);
  });

  it('never locks the dashboard or the settings', () => {
    expect(mayOpen([], 'dashboard')).toBe(true);
    expect(mayOpen([], 'settings')).toBe(true);
  });

  it('says what a locked screen needs', () => {
    expect(lockedHint(SUPPORT, 'audit')).toMatch(/^needs audit\.read: ask an administrator/);
    expect(lockedHint(SUPPORT, 'tasks')).toMatch(/^needs projects\.read or tasks\.read or tasks\.read_own/);
    expect(lockedHint(SUPPORT, 'gdpr')).toBeNull();
  });

  it('lists the extra roles after the account role, once', () => {
    expect(roleLine('EMPLOYEE', ['SUPPORT'])).toBe('EMPLOYEE · SUPPORT');
    expect(roleLine('ADMIN', ['ADMIN'])).toBe('ADMIN');
    expect(roleLine('MANAGER', [])).toBe('MANAGER');
  });
});
