// Which screens an operator can use, from the permissions the core grants it. The core checks
// every call; this only lets the window say up front what a role cannot open.

import type { Screen } from './stores.svelte';

/** The permissions that open each screen (any one of them); screens not listed need none. */
export const SCREEN_NEEDS: Partial<Record<Screen, string[]>> = {
  users: ['users.read'],
  orgs: ['orgs.read'],
  tasks: ['projects.read', 'tasks.read', 'tasks.read_own'],
  audit: ['audit.read'],
  logs: ['logs.read'],
  backups: ['backups.read'],
  gdpr: ['gdpr.read'],
  health: ['health.read'],
  sync: ['sync.run'],
  operators: ['roles.read'],
};

/** Whether `permissions` open `screen`. */
export function mayOpen(permissions: readonly string[], screen: Screen): boolean {
  const needs = SCREEN_NEEDS[screen];
  return !needs || needs.some((p) => permissions.includes(p));
}

/** The hint on a screen the operator cannot open (`needs audit.read`), or null. */
export function lockedHint(permissions: readonly string[], screen: Screen): string | null {
  return mayOpen(permissions, screen) ? null : `needs ${(SCREEN_NEEDS[screen] ?? []).join(' or ')}: ask an administrator for a role that grants it`;
}

/** The operator's role line: the account role, then the extra roles granted (`EMPLOYEE · SUPPORT`). */
export function roleLine(role: string, roles: readonly string[]): string {
  return [role, ...roles.filter((r) => r !== role)].join(' · ');
}
