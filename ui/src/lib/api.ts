// The one typed API over Tauri's invoke(). Types come from Rust (ts-rs, ./bindings); every
// rejection becomes an ApiError {code, message}.

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import { toApiError } from './errors';
import { app } from './stores.svelte';
import type { Page } from './bindings/Page';
import type { User } from './bindings/User';
import type { UserDetail } from './bindings/UserDetail';
import type { UserFilter } from './bindings/UserFilter';
import type { NewUser } from './bindings/NewUser';
import type { Created } from './bindings/Created';
import type { UserPatch } from './bindings/UserPatch';
import type { SessionInfo } from './bindings/SessionInfo';
import type { ApiKeyInfo } from './bindings/ApiKeyInfo';
import type { Organization } from './bindings/Organization';
import type { OrgDetail } from './bindings/OrgDetail';
import type { OrgRole } from './bindings/OrgRole';
import type { Team } from './bindings/Team';
import type { Project } from './bindings/Project';
import type { ProjectStatus } from './bindings/ProjectStatus';
import type { Task } from './bindings/Task';
import type { TaskFilter } from './bindings/TaskFilter';
import type { TaskPatch } from './bindings/TaskPatch';
import type { BulkReport } from './bindings/BulkReport';
import type { AuditEntry } from './bindings/AuditEntry';
import type { AuditFilter } from './bindings/AuditFilter';
import type { Format } from './bindings/Format';
import type { AccessEntry } from './bindings/AccessEntry';
import type { AccessFilter } from './bindings/AccessFilter';
import type { ErrorEntry } from './bindings/ErrorEntry';
import type { ErrorFilter } from './bindings/ErrorFilter';
import type { AppInfo } from './bindings/AppInfo';
import type { Me } from './bindings/Me';
import type { Setting } from './bindings/Setting';
import type { OperatorLogin } from './bindings/OperatorLogin';
import type { Provisioned } from './bindings/Provisioned';
import type { MigrationStatus } from './bindings/MigrationStatus';
import type { Dashboard } from './bindings/Dashboard';
import type { Approval } from './bindings/approvals/Approval';
import type { RestorePlan } from './bindings/backup/RestorePlan';
import type { Status as ApprovalStatus } from './bindings/approvals/Status';
import type { Profile } from './bindings/Profile';
import type { ProfileView } from './bindings/ProfileView';
import type { KeychainStatus } from './bindings/KeychainStatus';
import type { WorkspaceInfo } from './bindings/WorkspaceInfo';
import type { JobProgress } from './bindings/JobProgress';
/** A `progress` event of a long job (export, erasure, backup, sync, bulk edit). */
export type Progress = JobProgress;
import type { Queue as GdprQueue } from './bindings/gdpr/Queue';
import type { Request as GdprRequest } from './bindings/gdpr/Request';
import type { RequestDetail as GdprRequestDetail } from './bindings/gdpr/RequestDetail';
import type { RequestKind as GdprRequestKind } from './bindings/gdpr/RequestKind';
import type { ExportOutcome as GdprExportOutcome } from './bindings/gdpr/ExportOutcome';
import type { ErasureOutcome as GdprErasureOutcome } from './bindings/gdpr/ErasureOutcome';
import type { ConsentView } from './bindings/gdpr/ConsentView';
import type { NewApiKey } from './bindings/NewApiKey';
import type { Status as SyncStatus } from './bindings/sync/Status';
import type { Conflict as SyncConflict } from './bindings/sync/Conflict';
import type { InitialReport as SyncInitialReport } from './bindings/sync/InitialReport';
import type { PushReport as SyncPushReport } from './bindings/sync/PushReport';
import type { PullReport as SyncPullReport } from './bindings/sync/PullReport';
import type { Resolved as SyncResolved } from './bindings/sync/Resolved';
import type { OutboxItem as SyncOutboxItem } from './bindings/sync/OutboxItem';
import type { HealthReport } from './bindings/health/HealthReport';
// The string "enums" commands take (serde enums in src-tauri/src/cmd, generated with ts-rs).
import type { UserAction } from './bindings/UserAction';
import type { OrgAction } from './bindings/OrgAction';
import type { GdprAction } from './bindings/GdprAction';
import type { OutboxAction } from './bindings/OutboxAction';
import type { ConflictKeep } from './bindings/ConflictKeep';
import type { LoggingChange } from './bindings/health/LoggingChange';
import type { LoggingUpdate } from './bindings/health/LoggingUpdate';
import type { ResetResult } from './bindings/health/ResetResult';
import type { SignalResult } from './bindings/health/SignalResult';
import type { Signal } from './bindings/health/Signal';
import type { Metrics } from './bindings/health/Metrics';
import type { SessionInfo as PgSession } from './bindings/health/SessionInfo';
import type { Snapshot as BackupSnapshot } from './bindings/backup/Snapshot';
import type { BackupList } from './bindings/backup/BackupList';
import type { Verification as BackupVerification } from './bindings/backup/Verification';
import type { PrunePlan } from './bindings/backup/PrunePlan';
import type { PruneItem } from './bindings/backup/PruneItem';
import type { RestoreReport } from './bindings/backup/RestoreReport';
import type { PitrReadiness } from './bindings/backup/PitrReadiness';

export type { UserAction, OrgAction, GdprAction, OutboxAction, ConflictKeep, Signal };

// ncy-sync types (bindings/sync); the two wrappers mirror src-tauri/src/cmd/sync.rs.
export type { SyncStatus, SyncConflict, SyncInitialReport, SyncPushReport, SyncPullReport, SyncResolved, SyncOutboxItem };
export interface SyncView { status: SyncStatus; conflicts: SyncConflict[]; outbox: SyncOutboxItem[]; next_retry: string | null }
export interface SyncRunReport { push: SyncPushReport; pull: SyncPullReport }

export type {
  Page, User, UserDetail, UserFilter, NewUser, Created, UserPatch, SessionInfo, ApiKeyInfo,
  Organization, OrgDetail, OrgRole, Team, Project, ProjectStatus, Task, TaskFilter, TaskPatch,
  BulkReport, AuditEntry, AuditFilter, Format, AccessEntry, AccessFilter, ErrorEntry, ErrorFilter,
  AppInfo, Me, Setting, OperatorLogin, Provisioned, MigrationStatus, Dashboard, Profile, ProfileView, KeychainStatus, WorkspaceInfo,
  GdprQueue, GdprRequest, HealthReport,
  BackupSnapshot, BackupList, BackupVerification, PrunePlan, PruneItem, RestoreReport, PitrReadiness,
  LoggingChange, LoggingUpdate, ResetResult, SignalResult, Metrics, PgSession,
  GdprRequestDetail, GdprRequestKind, GdprExportOutcome,
  GdprErasureOutcome, NewApiKey, ConsentView, Approval, ApprovalStatus, RestorePlan,
};

// Commands that open or test a connection: a refused login there is the answer, not the end of
// the session the window holds.
const CONNECTING = new Set(['login', 'logout', 'workspace_switch', 'workspace_offline', 'profiles_test', 'profiles_save', 'app_info']);

/** Calls a command; rejects with ApiError only. A call refused because the operator's session
 * ended (suspended, revoked, expired, their database login refused) signs the window out. */
export async function call<T>(cmd: string, args?: Record<string, unknown>, confirmed = false): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    const err = toApiError(e);
    if ((err.code === 'unauthenticated' || err.code === 'database_auth') && !CONNECTING.has(cmd)) {
      app.endSession(err);
    }
    // A destructive action after a long sign-in: ask for the password, then try once more.
    if (err.code === 'step_up' && !confirmed && (await app.stepUp())) return call<T>(cmd, args, true);
    throw err;
  }
}

/** A patch where omitted fields mean "leave as is" (serde treats missing Options as None). */
export type Partial_<T> = { [K in keyof T]?: T[K] };

export const api = {
  appInfo: () => call<AppInfo>('app_info'),
  login: (email: string, password: string) => call<Me>('login', { email, password }),
  logout: () => call<void>('logout'),
  stepUp: (password: string) => call<void>('session_step_up', { password }),
  dashboard: () => call<Dashboard>('dashboard'),
  cancelJob: (job: string) => call<boolean>('job_cancel', { job }),

  users: {
    list: (filter: Partial_<UserFilter>, limit: number, after: string | null) =>
      call<Page<User>>('users_list', { filter, limit, after }),
    get: (id: string) => call<UserDetail>('users_get', { id }),
    create: (user: Partial_<NewUser> & { email: string }) => call<Created>('users_create', { user }),
    update: (id: string, patch: Partial_<UserPatch>) => call<User>('users_update', { id, patch }),
    setState: (id: string, action: UserAction) =>
      call<User>('users_set_state', { id, action }),
    resetPassword: (id: string) => call<string>('users_reset_password', { id }),
    sessions: (id: string) => call<SessionInfo[]>('users_sessions', { id }),
    revokeSession: (sessionId: string) => call<void>('users_revoke_session', { sessionId }),
    apiKeys: (id: string) => call<ApiKeyInfo[]>('users_api_keys', { id }),
    revokeApiKey: (keyId: string) => call<void>('users_revoke_api_key', { keyId }),
    createApiKey: (id: string, scopes: string[], expires: string | null) =>
      call<NewApiKey>('users_create_api_key', { id, scopes, expires }),
    role: (id: string, role: string, grant: boolean) => call<void>('users_role', { id, role, grant }),
  },

  orgs: {
    list: (search: string | null, includeDeleted: boolean, limit: number, after: string | null) =>
      call<Page<Organization>>('orgs_list', { search, includeDeleted, limit, after }),
    get: (org: string) => call<OrgDetail>('orgs_get', { org }),
    create: (name: string, slug: string, owner: string) => call<Organization>('orgs_create', { name, slug, owner }),
    transfer: (org: string, owner: string) => call<Organization>('orgs_transfer', { org, owner }),
    setState: (org: string, action: OrgAction) => call<Organization>('orgs_set_state', { org, action }),
    setMember: (org: string, user: string, role: OrgRole) => call<void>('orgs_set_member', { org, user, role }),
    removeMember: (org: string, user: string) => call<void>('orgs_remove_member', { org, user }),
    createTeam: (org: string, name: string, description: string | null) =>
      call<Team>('teams_create', { org, name, description }),
    deleteTeam: (org: string, team: string) => call<void>('teams_delete', { org, team }),
    teamMember: (org: string, team: string, user: string, add: boolean) =>
      call<void>('teams_member', { org, team, user, add }),
  },

  projects: {
    list: (org: string | null, status: ProjectStatus | null, limit: number, after: string | null) =>
      call<Page<Project>>('projects_list', { org, status, limit, after }),
  },

  tasks: {
    list: (filter: Partial_<TaskFilter>, limit: number, after: string | null) =>
      call<Page<Task>>('tasks_list', { filter, limit, after }),
    get: (id: string) => call<Task>('tasks_get', { id }),
    update: (id: string, patch: Partial_<TaskPatch>) => call<Task>('tasks_update', { id, patch }),
    bulkUpdate: (job: string, ids: string[], patch: Partial_<TaskPatch>) =>
      call<BulkReport>('tasks_bulk_update', { job, ids, patch }),
  },

  operators: {
    list: () => call<OperatorLogin[]>('operators_list'),
    provision: (user: string) => call<Provisioned>('operators_provision', { user }),
    rotate: (user: string) => call<Provisioned>('operators_rotate', { user }),
    revoke: (user: string) => call<OperatorLogin>('operators_revoke', { user }),
  },

  approvals: {
    list: (status: ApprovalStatus | null) => call<Approval[]>('approvals_list', { status }),
    approve: (id: string) => call<Approval>('approvals_approve', { id }),
    reject: (id: string, reason: string) => call<Approval>('approvals_reject', { id, reason }),
    cancel: (id: string) => call<Approval>('approvals_cancel', { id }),
  },

  settings: {
    list: () => call<Setting[]>('settings_list'),
    set: (key: string, value: string) => call<Setting>('settings_set', { key, value }),
    reset: (key: string) => call<Setting>('settings_reset', { key }),
    schema: () => call<MigrationStatus[]>('schema_status'),
  },

  audit: {
    list: (filter: Partial_<AuditFilter>, limit: number, after: string | null) =>
      call<Page<AuditEntry>>('audit_list', { filter, limit, after }),
    export: (filter: Partial_<AuditFilter>, format: Format, path: string) =>
      call<number>('audit_export', { filter, format, path }),
  },

  logs: {
    access: (filter: Partial_<AccessFilter>, limit: number, after: string | null) =>
      call<Page<AccessEntry>>('logs_access', { filter, limit, after }),
    errors: (filter: Partial_<ErrorFilter>, limit: number, after: string | null) =>
      call<Page<ErrorEntry>>('logs_errors', { filter, limit, after }),
  },

  backups: {
    list: (after: string | null) => call<BackupList>('backups_list', { after }),
    create: (job: string, encrypt = false) => call<BackupSnapshot>('backups_create', { job, encrypt }),
    verify: (job: string, id: string) => call<BackupVerification>('backups_verify', { job, id }),
    prune: (keepDays: number, keepLast: number | null, dryRun: boolean) =>
      call<PrunePlan>('backups_prune', { keepDays, keepLast, dryRun }),
    restore: (job: string, id: string, into: string, force: boolean, noOwner: boolean, tables: string[] = []) =>
      call<RestoreReport>('backups_restore', { job, id, into, force, noOwner, tables }),
    restorePlan: (id: string, into: string, force: boolean, noOwner: boolean, tables: string[] = []) =>
      call<RestorePlan>('backups_restore_plan', { id, into, force, noOwner, tables }),
    pitr: () => call<PitrReadiness>('backups_pitr'),
    recoveryScript: (target: string) => call<string>('backups_recovery_script', { target }),
  },

  gdpr: {
    queue: (state: string | null, overdue: boolean, includeClosed: boolean) =>
      call<GdprQueue>('gdpr_queue', { state, overdue, includeClosed }),
    act: (id: string, action: GdprAction, note: string) =>
      call<GdprRequest>('gdpr_act', { id, action, note }),
    show: (id: string) => call<GdprRequestDetail>('gdpr_show', { id }),
    create: (user: string, kind: GdprRequestKind, note: string | null) =>
      call<GdprRequest>('gdpr_create', { user, kind, note }),
    extend: (id: string, months: number, reason: string) => call<GdprRequest>('gdpr_extend', { id, months, reason }),
    exportDir: () => call<string>('gdpr_export_dir'),
    export: (job: string, id: string, dir: string) => call<GdprExportOutcome>('gdpr_export', { job, id, dir }),
    erase: (job: string, id: string, confirm: string) => call<GdprErasureOutcome>('gdpr_erase', { job, id, confirm }),
    hold: (user: string, place: boolean, reason: string) => call<number>('gdpr_hold', { user, place, reason }),
    /** A user's consents (id or email): current state per purpose and history (gdpr.read). */
    consents: (user: string) => call<ConsentView>('consents_list', { user }),
    /** Grants (with an optional source) or withdraws a purpose; returns the consents after. */
    setConsent: (user: string, purpose: string, grant: boolean, source: string | null) =>
      call<ConsentView>('consents_set', { user, purpose, grant, source }),
  },

  sync: {
    status: () => call<SyncView>('sync_status'),
    init: (job: string, orgs: string[]) => call<SyncInitialReport>('sync_init', { job, orgs }),
    run: (job: string) => call<SyncRunReport>('sync_run', { job }),
    resolve: (id: string, keep: ConflictKeep | null, value: string | null) =>
      call<SyncResolved>('sync_resolve', { id, keep, value }),
    outbox: (id: string, action: OutboxAction) => call<SyncOutboxItem>('sync_outbox', { id, action }),
    nextRetry: () => call<string | null>('sync_next_retry'),
  },

  health: {
    report: () => call<HealthReport>('health_report'),
    loggingWarnings: (change: LoggingChange) => call<string[]>('health_logging_warnings', { change }),
    setLogging: (change: LoggingChange) => call<LoggingUpdate>('health_set_logging', { change }),
    resetStatements: () => call<ResetResult>('health_reset_statements'),
    signal: (pid: number, signal: Signal) => call<SignalResult>('health_signal', { pid, signal }),
    prometheusGet: () => call<string | null>('health_prometheus_get'),
    prometheusSet: (url: string | null) => call<void>('health_prometheus_set', { url }),
    metrics: (window: string, database: string | null) => call<Metrics>('health_metrics', { window, database }),
  },

  connections: {
    keychain: () => call<KeychainStatus>('keychain_status'),
    list: () => call<ProfileView[]>('profiles_list'),
    /** Adds a profile, or edits (and maybe renames) the one named `previous`. */
    save: (profile: Profile, password: string | null, sessionOnly: boolean, previous: string | null = null) =>
      call<ProfileView>('profiles_save', { profile, password, sessionOnly, previous }),
    remove: (name: string) => call<void>('profiles_delete', { name }),
    test: (profile: Profile, password: string | null) => call<string>('profiles_test', { profile, password }),
    switchTo: (name: string | null) => call<WorkspaceInfo>('workspace_switch', { name }),
    /** Works on the profile's offline cache as the operator last seen online. */
    offline: (name: string) => call<{ workspace: WorkspaceInfo; me: Me }>('workspace_offline', { name }),
  },
};

/** Follows `progress` events of long jobs. */
export function onProgress(cb: (p: Progress) => void): Promise<UnlistenFn> {
  return listen<Progress>('progress', (e) => cb(e.payload));
}
