// App-wide state (Svelte 5 runes): session, current screen, toasts, overlay stack.

import type { AppInfo, Me } from './api';
import { ApiError, errorTitle, toApiError } from './errors';

export type Screen =
  | 'dashboard' | 'users' | 'orgs' | 'tasks' | 'audit' | 'logs'
  | 'backups' | 'gdpr' | 'health' | 'sync' | 'operators' | 'approvals' | 'settings';

export const SCREENS: { id: Screen; label: string; icon: string; keywords: string }[] = [
  { id: 'dashboard', label: 'Dashboard', icon: 'M3 13h8V3H3zm0 8h8v-6H3zm10 0h8V11h-8zm0-18v6h8V3z', keywords: 'home overview counts' },
  { id: 'users', label: 'Users', icon: 'M16 11a4 4 0 1 0-4-4 4 4 0 0 0 4 4zm-8 0a3 3 0 1 0-3-3 3 3 0 0 0 3 3zm0 2c-2.7 0-8 1.3-8 4v3h8v-3c0-1 .4-2 1.2-2.8A10 10 0 0 0 8 13zm8 0c-2.7 0-8 1.3-8 4v3h16v-3c0-2.7-5.3-4-8-4z', keywords: 'people accounts members' },
  { id: 'orgs', label: 'Organizations', icon: 'M12 7V3H2v18h20V7zM6 19H4v-2h2zm0-4H4v-2h2zm0-4H4V9h2zm0-4H4V5h2zm4 12H8v-2h2zm0-4H8v-2h2zm0-4H8V9h2zm0-4H8V5h2zm10 12h-8v-2h2v-2h-2v-2h2v-2h-2V9h8z', keywords: 'orgs teams members ownership' },
  { id: 'tasks', label: 'Projects & Tasks', icon: 'M9 11l3 3L22 4M21 12v7a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h11', keywords: 'projects tasks board review bulk' },
  { id: 'audit', label: 'Audit log', icon: 'M13 3a9 9 0 0 0-9 9H1l4 4 4-4H6a7 7 0 1 1 2 4.9l-1.4 1.5A9 9 0 1 0 13 3zm-1 5v5l4.3 2.5.7-1.2-3.5-2.1V8z', keywords: 'history changes who did what export' },
  { id: 'logs', label: 'Access & Error logs', icon: 'M4 6h16M4 10h16M4 14h10M4 18h7', keywords: 'requests errors logs' },
  { id: 'backups', label: 'Backups', icon: 'M4 4h16v6H4zm0 10h16v6H4zm3-8h2v2H7zm0 10h2v2H7z', keywords: 'backup restore verify' },
  { id: 'gdpr', label: 'GDPR requests', icon: 'M12 2l8 3v6c0 5-3.4 9.7-8 11-4.6-1.3-8-6-8-11V5z', keywords: 'privacy erasure export requests' },
  { id: 'health', label: 'Database health', icon: 'M3 12h4l3-8 4 16 3-8h4', keywords: 'database health statements indexes' },
  { id: 'sync', label: 'Sync', icon: 'M4 4v5h5M20 20v-5h-5M5 15a8 8 0 0 0 14 2M19 9A8 8 0 0 0 5 7', keywords: 'sync offline conflicts' },
  { id: 'operators', label: 'Operators', icon: 'M12 2a5 5 0 1 1 0 10 5 5 0 0 1 0-10zm-8 20v-2a6 6 0 0 1 6-6h4a6 6 0 0 1 6 6v2zM19 3l2 2-4 4-2-2z', keywords: 'database roles logins provision rotate revoke postgres' },
  { id: 'approvals', label: 'Approvals', icon: 'M9 12l2 2 4-4M7 3h10l4 4v10l-4 4H7l-4-4V7z', keywords: 'four eyes approve reject second operator destructive' },
  { id: 'settings', label: 'Settings', icon: 'M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm7.4-1.5l2 1.6-2 3.4-2.4-1a7 7 0 0 1-2 1.2L14.6 21h-4l-.4-2.3a7 7 0 0 1-2-1.2l-2.4 1-2-3.4 2-1.6a7 7 0 0 1 0-2.4l-2-1.6 2-3.4 2.4 1a7 7 0 0 1 2-1.2L10.6 3h4l.4 2.3a7 7 0 0 1 2 1.2l2.4-1 2 3.4-2 1.6a7 7 0 0 1 0 2.4z', keywords: 'connections profiles postgres keychain preferences' },
];

function savedScreen(): Screen {
  try {
    const s = localStorage.getItem('ncy.screen');
    if (s && SCREENS.some((x) => x.id === s)) return s as Screen;
  } catch { /* storage unavailable */ }
  return 'dashboard';
}

export interface Toast { id: number; kind: 'error' | 'success' | 'info'; title: string; message: string }

class AppStore {
  info = $state<AppInfo | null>(null);
  me = $state<Me | null>(null);
  screen = $state<Screen>(savedScreen());
  paletteOpen = $state(false);
  toasts = $state<Toast[]>([]);
  /** Set by screens that accept an action from the palette (e.g. "new user"). */
  pending = $state<string | null>(null);
  private overlays: (() => void)[] = [];
  private nextId = 1;

  go(s: Screen, pending: string | null = null) {
    this.screen = s;
    this.pending = pending;
    try { localStorage.setItem('ncy.screen', s); } catch { /* ignore */ }
  }

  can(perm: string): boolean {
    return !!this.me && this.me.permissions.includes(perm);
  }

  get isPostgres(): boolean {
    return this.info?.workspace.kind === 'postgres';
  }

  /** True on a profile's offline cache (reads; task edits queued for the next Sync now). */
  get isOffline(): boolean {
    return this.info?.workspace.kind === 'offline';
  }

  toast(kind: Toast['kind'], title: string, message = '', ms = 6000) {
    const id = this.nextId++;
    this.toasts = [...this.toasts, { id, kind, title, message }];
    if (ms > 0) setTimeout(() => this.dismiss(id), ms);
  }

  dismiss(id: number) {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }

  /** Signs the window out after the server refused the session, saying why (once). */
  /** A destructive action waiting for the operator's password (step-up), if any. */
  stepUpAsk = $state<{ resolve: (confirmed: boolean) => void } | null>(null);

  /** Asks for the password again (the StepUp dialog); true once it was confirmed. */
  stepUp(): Promise<boolean> {
    this.stepUpAsk?.resolve(false);
    return new Promise((resolve) => { this.stepUpAsk = { resolve }; });
  }

  endSession(err: ApiError) {
    if (!this.me) return;
    this.me = null;
    this.toast('error', 'Signed out', `${err.message.replace(/\.$/, "")}. Sign in again or choose another connection.`, 15000);
  }

  /** Shows any error as a readable toast; returns the ApiError. */
  fail(e: unknown): ApiError {
    const err = toApiError(e);
    // Filed for a second operator's approval: not a failure, the action waits (Approvals).
    if (err.code === 'approval_filed') this.toast('info', errorTitle(err.code), err.message, 12000);
    else this.toast('error', errorTitle(err.code), err.message, 10000);
    return err;
  }

  /** Registers an overlay closed by Esc; returns its unregister function. */
  pushOverlay(close: () => void): () => void {
    this.overlays.push(close);
    return () => { this.overlays = this.overlays.filter((c) => c !== close); };
  }

  closeTop(): boolean {
    const c = this.overlays.pop();
    if (c) { c(); return true; }
    return false;
  }
}

export const app = new AppStore();

/** Runs an async action, toasting errors; returns undefined on failure. */
export async function attempt<T>(f: () => Promise<T>, ok?: string): Promise<T | undefined> {
  try {
    const r = await f();
    if (ok) app.toast('success', ok);
    return r;
  } catch (e) {
    app.fail(e);
    return undefined;
  }
}
