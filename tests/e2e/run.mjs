// End-to-end tests in the real NCY Admin window (tauri-driver + WebKitWebDriver under Xvfb),
// on a fresh local workspace (NCY_DATA_DIR) with a real Secret Service keychain. Run by
// scripts/e2e.sh. Prints one line per test and a closing `N passed, M failed`.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Driver, sleep } from './webdriver.mjs';

const app = process.env.NCY_DESKTOP_BIN;
const shots = process.env.SCREENSHOT_DIR;
const dataDir = process.env.NCY_DATA_DIR;
if (!app || !shots || !dataDir) {
  console.error('e2e: set NCY_DESKTOP_BIN, SCREENSHOT_DIR and NCY_DATA_DIR (scripts/e2e.sh does)');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const d = new Driver(process.env.DRIVER_URL ?? 'http://127.0.0.1:4444');
const results = [];
const stamp = Date.now().toString(36);
const newEmail = `e2e-${stamp}@example.com`;
const gdprEmail = `gdpr-${stamp}@example.com`;
const figures = {};

async function shot(name) {
  const png = await d.screenshot();
  writeFileSync(join(shots, `${name}.png`), png);
  if (png.length < 2000) throw new Error(`screenshot ${name} is suspiciously small (${png.length} bytes)`);
}

async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}: ${e.message}`);
    try { await shot(`FAIL-${name.replace(/\W+/g, '-')}`); } catch { /* window gone */ }
    // Leave no dialog open behind a failure, so the next test starts from a clean window.
    try { await d.keys('Escape'); await d.keys('Escape'); await dismissToasts(); } catch { /* window gone */ }
  }
}

function assert(cond, msg) { if (!cond) throw new Error(msg); }

async function nav(screen) {
  // A drawer or dialog left open by an earlier step would cover the screen: close it first.
  for (let i = 0; i < 3 && (await d.exec(`return !!document.querySelector('aside.drawer, [role="dialog"]')`)); i++) {
    await d.keys('Escape');
    await sleep(150);
  }
  await d.click(`[data-nav="${screen}"]`);
  await d.wait(`main[data-screen="${screen}"]`);
}

// The newest toast's id when the last click was made: toastText() waits for a toast raised
// after it, so a toast left over from an earlier step is not taken for this step's answer.
let toastMark = -1;
const rawClick = d.click.bind(d);
d.click = async (css) => {
  toastMark = await d.exec(`return Math.max(-1, ...[...document.querySelectorAll('[data-testid^="toast-"]')].map((t) => Number(t.dataset.id)))`);
  return rawClick(css);
};

/** Waits for the restore dialog's plan of `into` (worked out, or refused with its reason):
 *  it arrives after the typing stops and resizes the dialog, which moves the Restore button
 *  under a click already on its way. A person reads the plan first too. */
async function restorePlanFor(into) {
  await d.until(`the restore plan for ${into}`, () => d.exec(`const p = document.querySelector('[data-testid="restore-plan"]'); return !!p && ((!!p.dataset.action && p.innerText.includes(arguments[0])) || !!p.querySelector('.problem'))`, into));
}

/** The text of the newest `kind` toast raised since the last click (else the newest one). */
async function toastText(kind, timeout = 10000) {
  const newest = (after) => d.exec(`const t = [...document.querySelectorAll('[data-testid="toast-' + arguments[0] + '"]')].filter((e) => Number(e.dataset.id) > arguments[1]); return t.length ? t[t.length - 1].innerText : null;`, kind, after);
  try {
    return await d.until(`a new ${kind} toast`, () => newest(toastMark), timeout);
  } catch (e) {
    // Raised before the last click (a step that clicked again before reading its toast).
    const earlier = await newest(-1);
    if (earlier !== null) {
      figures.toastsFromBeforeTheLastClick = (figures.toastsFromBeforeTheLastClick ?? 0) + 1;
      return earlier;
    }
    throw e;
  }
}

/** Logs in on the open login form (the seeded admin unless told) and waits for the shell. */
async function login(email = 'admin@ncy-8.com', password = 'admin123') {
  await d.clear('[data-testid="login-email"]');
  await d.type('[data-testid="login-email"]', email);
  await d.clear('[data-testid="login-password"]');
  await d.type('[data-testid="login-password"]', password);
  await d.click('[data-testid="login-submit"]');
  await d.wait('[data-testid="shell"]');
  await dismissToasts();
}

/**
 * Creates a user from the Users screen with account role `role` and returns the temporary
 * password the window shows once; `shotName` saves a screenshot of that dialog.
 */
/** Searches the users table for `term` and waits until it shows exactly `email`: the search
 * has been applied (a row found earlier may be replaced by the filtered list's render before
 * a click reaches it). */
async function searchUsers(term, email) {
  await d.clear('[data-testid="users-search"]');
  await d.type('[data-testid="users-search"]', term);
  await d.until(`exactly ${email} in the users table`, async () => {
    const rows = await d.exec(`return [...document.querySelectorAll('[data-testid="users-table"] [data-email]')].map((e) => e.dataset.email)`);
    return rows.length === 1 && rows[0] === email;
  });
}

async function createUser(email, role, shotName = null) {
  await nav('users');
  await d.click('[data-testid="user-new"]');
  await d.type('[data-testid="user-new-email"]', email);
  await d.select('[data-testid="user-new-role"]', role);
  await d.click('[data-testid="user-new-submit"]');
  await d.wait('[data-testid="user-created"]');
  const pw = await d.exec(`return document.querySelector('[data-testid="temp-password"]').value`);
  assert(pw && pw.length >= 12, `temporary password shown once (${pw?.length} chars)`);
  if (shotName) await shot(shotName);
  await d.keys('Escape');
  await d.until('the dialog to close', async () => (await d.findAll('[data-testid="user-created"]')).length === 0);
  return pw;
}

/**
 * Waits until the settings row `row` holds the typed `value` and its Save button is enabled:
 * the screen's own state, so a click never lands on a button the typing has not enabled yet.
 */
async function draftReady(row, value) {
  await d.until(`the draft ${value} ready to save`, () => d.exec(
    `const r = document.querySelector(arguments[0]); const i = r && r.querySelector('[data-testid="setting-input"]'); const b = r && r.querySelector('[data-testid="setting-save"]');
     return !!(i && b && i.value === arguments[1] && !b.disabled);`, row, value));
}

/** Finds an entry of `action` on the Audit log screen, filtered by it, then clears the filter. */
async function findAuditEntry(action) {
  await nav('audit');
  await d.clear('[data-testid="audit-action"]');
  await d.type('[data-testid="audit-action"]', action);
  await d.until(`a ${action} entry`, async () => (await d.text('[data-testid="audit-table"]')).includes(action));
  await d.clear('[data-testid="audit-action"]');
}

/** Logs out and waits for the login form. */
async function logout() {
  await d.click('[data-testid="logout"]');
  await d.wait('[data-testid="login-form"]');
}

/** Opens the connection row named `label` (Settings) and logs in there as the seeded admin. */
async function switchTo(label) {
  await nav('settings');
  await d.until(`the ${label} row`, async () => d.exec(`return [...document.querySelectorAll('[data-testid="connections"] tr')].some((r) => r.textContent.includes(arguments[0]))`, label));
  await d.exec(`[...document.querySelectorAll('[data-testid="connections"] tr')].find((r) => r.textContent.includes(arguments[0])).querySelector('button').click()`, label);
  await d.wait('[data-testid="login-form"]');
  await login();
}

/**
 * Files a GDPR request of `kind` from the GDPR screen: searches users for `search`, picks
 * `email` among the matches (which also keeps the list from moving the buttons under a
 * click), checks the subject and the due-date preview, and waits for the request's drawer.
 */
async function fileGdprRequest(search, email, kind) {
  await nav('gdpr');
  await d.click('[data-testid="gdpr-new"]');
  await d.type('[data-testid="gdpr-user"]', search);
  await d.click(`[data-testid="gdpr-user-matches"] [data-email="${email}"]`);
  assert((await d.exec(`return document.querySelector('[data-testid="gdpr-user"]').value`)) === email, 'the user search fills the subject');
  // The picked match closes the list; the modal's buttons stay where they are.
  await d.until('the matches list to close', async () => (await d.findAll('[data-testid="gdpr-user-matches"]')).length === 0);
  await d.select('[data-testid="gdpr-kind"]', kind);
  assert(/due \d{4}-\d\d-\d\d \(one month/.test(await d.text('[data-testid="gdpr-due-preview"]')), 'due date preview');
  await d.click('[data-testid="gdpr-create-submit"]');
  await d.wait('[data-testid="gdpr-drawer"]');
}

/** One SQL statement on the E2E PostgreSQL database; its output trimmed. */
function psql(sql) {
  return execFileSync('psql', [process.env.E2E_PG_URL, '-tAXqc', sql], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/**
 * Creates an organization named `name` (owned by the seeded admin) on the Organizations
 * screen and leaves its drawer open; returns its slug.
 */
async function createOrg(name) {
  await nav('orgs');
  await d.click('[data-testid="org-new"]');
  await d.type('[data-testid="org-new-name"]', name);
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  assert((await d.exec(`return document.querySelector('[data-testid="org-new-slug"]').value`)) === slug, 'slug derived from the name');
  await d.type('[data-testid="org-new-owner"]', 'admin@ncy-8.com');
  await d.click('[data-testid="org-new-submit"]');
  assert(/Organization created/.test(await toastText('success')), 'created toast');
  await d.until('the new organization drawer', async () => (await d.findAll('[data-testid="org-drawer"]')).length && (await d.text('[data-testid="org-drawer"]')).includes(slug));
  assert(/owner admin@ncy-8\.com/.test(await d.text('[data-testid="org-drawer"]')), 'owner shown');
  await d.until('the row in the table', async () => (await d.text('[data-testid="orgs-table"]')).includes(slug));
  await dismissToasts();
  return slug;
}

/** Deletes the organization whose drawer is open, typing its slug to confirm. */
async function deleteOrg(slug) {
  await d.click('[data-testid="org-delete"]');
  await d.wait('[data-testid="org-confirm-delete"]');
  assert(await d.exec(`return document.querySelector('[data-testid="org-confirm-submit"]').disabled`), 'delete disabled before typing the slug');
  await d.type('[data-testid="org-confirm-input"]', slug);
  await d.click('[data-testid="org-confirm-submit"]');
}

/** Waits until the Connections list and the keychain's state are shown: a click before that
 * could land where a row or the keychain line is about to push the buttons. */
async function connectionsReady() {
  await d.wait('[data-testid="connections"][data-loaded="true"]');
}

async function dismissToasts() {
  await d.exec(`document.querySelectorAll('[data-testid^="toast-"] button').forEach((b) => b.click());`);
}

try {
  const t0 = Date.now();
  await d.start(app);
  await test('first start opens the login screen on a fresh local workspace', async () => {
    await d.wait('[data-testid="login-form"]', 30000);
    figures.coldStartMs = Date.now() - t0;
    const ws = await d.text('[data-testid="workspace-label"]');
    assert(ws.includes('Local workspace') && ws.includes(dataDir), `workspace label: ${ws}`);
    const info = await toastText('info');
    assert(/Local workspace created/.test(info), `first-start toast: ${info}`);
    await dismissToasts();
    await shot('01-login');
  });

  await test('wrong passwords lock the account and the lockout says how long', async () => {
    for (let i = 0; i < 6; i++) {
      await d.clear('[data-testid="login-email"]');
      await d.type('[data-testid="login-email"]', 'manager@test-org.com');
      await d.clear('[data-testid="login-password"]');
      await d.type('[data-testid="login-password"]', 'wrong-password');
      await d.click('[data-testid="login-submit"]');
      await d.until('the login error', async () => (await d.findAll('[data-testid="login-error"]')).length && !(await d.exec(`return document.querySelector('[data-testid="login-submit"]').disabled`)));
    }
    const msg = await d.text('[data-testid="login-error"]');
    assert(/Account locked/.test(msg) && /Try again in \d+ minutes?/.test(msg), `lockout message: ${msg}`);
    await shot('02-login-locked');
  });

  await test('login as the seeded admin shows the dashboard', async () => {
    await login();
    figures.loginToShellMs = Date.now() - t0;
    assert((await d.text('[data-testid="me"]')) === 'admin@ncy-8.com', 'operator shown');
    await nav('dashboard');
    await d.until('dashboard counts', async () => /\d/.test(await d.text('[data-testid="kpi-users"]')));
    await d.wait('[data-testid="audit-chart"]');
    await shot('03-dashboard');
  });

  await test('create a user from the Users screen', async () => {
    await nav('users');
    await d.wait('[data-testid="users-table"] [data-row="0"]');
    await createUser(newEmail, 'MANAGER', '04-user-created');
  });

  await test('search-as-you-type finds the new user and the drawer shows it', async () => {
    await searchUsers(stamp, newEmail);
    await d.click(`[data-email="${newEmail}"]`);
    await d.wait('[data-testid="user-drawer"]');
    await shot('05-users');
    await d.click('[data-testid="tab-history"]');
    await d.until('USER_CREATE in the user history', async () => /USER_CREATE/.test(await d.text('[data-testid="user-drawer"]')));
    await d.keys('Escape');
    await d.until('the drawer to close', async () => (await d.findAll('[data-testid="user-drawer"]')).length === 0);
  });

  await test('deleting needs the email typed, then the user is soft-deleted', async () => {
    await d.click(`[data-email="${newEmail}"]`);
    await d.click('[data-testid="user-delete"]');
    await d.wait('[data-testid="confirm-delete"]');
    assert(await d.exec(`return document.querySelector('[data-testid="confirm-delete-submit"]').disabled`), 'delete disabled before typing');
    await d.type('[data-testid="confirm-input"]', 'someone@else.com');
    assert(await d.exec(`return document.querySelector('[data-testid="confirm-delete-submit"]').disabled`), 'delete disabled for a wrong email');
    await d.clear('[data-testid="confirm-input"]');
    await d.type('[data-testid="confirm-input"]', newEmail);
    await d.click('[data-testid="confirm-delete-submit"]');
    await d.wait('[data-testid="user-restore"]');
    await d.click('[data-testid="user-restore"]');
    await d.wait('[data-testid="user-delete"]');
    await d.keys('Escape');
  });

  await test('the AuditLog entry of the creation is found with its new values', async () => {
    await nav('audit');
    await d.type('[data-testid="audit-action"]', 'USER_CREATE');
    const row = await d.until('a USER_CREATE row for the new user', async () => {
      const rows = await d.exec(`return [...document.querySelectorAll('[data-testid="audit-table"] [data-row]')].map((r) => r.dataset.row + '|' + r.textContent)`);
      return rows.length ? rows.find((r) => r.includes('USER_CREATE')) : null;
    });
    await d.click(`[data-testid="audit-table"] [data-row="${row.split('|')[0]}"]`);
    await d.wait('[data-testid="audit-drawer"]');
    const body = await d.text('[data-testid="audit-drawer"]');
    assert(body.includes(newEmail) && body.includes('MANAGER') && body.includes('admin@ncy-8.com'), `audit diff shows the new user: ${body.slice(0, 300)}`);
    assert(!/password/i.test(body.replace(/password_upgrade_pending/g, '')) || /redacted/i.test(body), 'no password in audit values');
    await dismissToasts();
    await shot('06-audit');
    await d.keys('Escape');
  });

  await test('edit a task and see its audit entry', async () => {
    await nav('tasks');
    await d.wait('[data-testid="tasks-table"] [data-row="0"]');
    const title = await d.exec(`return document.querySelector('[data-testid="tasks-table"] [data-row="0"] [data-title]').dataset.title`);
    await d.click('[data-testid="tasks-table"] [data-row="0"] [data-title]');
    await d.wait('[data-testid="task-drawer"]');
    const cur = await d.exec(`return document.querySelector('[data-testid="task-priority"]').value`);
    const next = cur === 'URGENT' ? 'LOW' : 'URGENT';
    await d.select('[data-testid="task-priority"]', next);
    await d.clear('[data-testid="task-title"]');
    await d.type('[data-testid="task-title"]', `${title} (e2e)`);
    await d.click('[data-testid="task-save"]');
    assert(/Task saved/.test(await toastText('success')), 'saved toast');
    await d.until('the table row to show the edit', async () => (await d.text('[data-testid="tasks-table"] [data-row="0"]')).includes('(e2e)'));
    await shot('07-tasks');
    await d.keys('Escape');
    await dismissToasts();
    await d.click('[data-testid="view-board"]');
    await d.wait('[data-testid="board"]');
    await shot('08-tasks-board');
    await findAuditEntry('TASK_UPDATE');
  });

  await test('bulk edit two tasks in one transaction with progress', async () => {
    await nav('tasks');
    await d.click('[data-testid="tasks-table"] [data-row="1"] input[type=checkbox]');
    await d.click('[data-testid="tasks-table"] [data-row="2"] input[type=checkbox]');
    await d.click('[data-testid="bulk-edit"]');
    await d.wait('[data-testid="bulk-modal"]');
    await d.select('[data-testid="bulk-priority"]', 'HIGH');
    await d.click('[data-testid="bulk-apply"]');
    const t = await toastText('success');
    assert(/Bulk edit: \d+ updated, \d+ unchanged/.test(t) && /(2 updated, 0|1 updated, 1|0 updated, 2) unchanged/.test(t), `bulk toast: ${t}`);
    await dismissToasts();
  });

  await test('audit export writes every matching entry to a CSV file', async () => {
    await nav('audit');
    await d.clear('[data-testid="audit-action"]');
    await d.type('[data-testid="audit-action"]', 'USER_CREATE');
    await d.click('[data-testid="audit-export"]');
    const path = join(dataDir, 'export-e2e.csv');
    await d.clear('[data-testid="export-path"]');
    await d.type('[data-testid="export-path"]', path);
    await d.click('[data-testid="export-run"]');
    const t = await toastText('success');
    const n = Number(/Exported (\d+) entries/.exec(t)?.[1]);
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    assert(n >= 1 && lines.length >= n + 1, `export count ${n}, ${lines.length} lines`);
    assert(lines[0].startsWith('id,created_at') && lines.some((l) => l.includes(newEmail)), 'CSV header and the new user');
    assert(lines.slice(1).every((l) => l.includes('USER_CREATE')), 'only the filtered action');
    await dismissToasts();
  });

  await test('errors from the core show as readable toasts', async () => {
    await nav('users');
    await d.click('[data-testid="user-new"]');
    await d.type('[data-testid="user-new-email"]', 'admin@ncy-8.com');
    await d.click('[data-testid="user-new-submit"]');
    const t = await toastText('error');
    assert(/Conflict/.test(t) && /already exists/.test(t), `conflict toast: ${t}`);
    assert(!/Error \{|Conflict \{|\bfield:/.test(t), `no debug dump: ${t}`);
    await d.keys('Escape');
    await dismissToasts();
  });

  await test('platform settings: lockout minutes refused out of range, set, audited, reset to the default', async () => {
    await nav('settings');
    const row = '[data-testid="platform-settings"] tr[data-key="auth.lockout.minutes"]';
    await d.wait(row);
    assert(/1–1440 · default 15/.test(await d.text(row)), `range and default shown: ${await d.text(row)}`);
    const schema = await d.text('[data-testid="schema-status"]');
    assert(/^up to date: \d+ migrations applied, last \d{4}_\w+$/.test(schema), `schema state: ${schema}`);
    await d.type(`${row} [data-testid="setting-input"]`, '0');
    await draftReady(row, '0');
    await d.click(`${row} [data-testid="setting-save"]`);
    const err = await toastText('error');
    assert(/between 1 and 1440/.test(err) && !/Invalid \{|\bfield:/.test(err), `range error: ${err}`);
    await d.clear(`${row} [data-testid="setting-input"]`);
    await d.type(`${row} [data-testid="setting-input"]`, '30');
    await draftReady(row, '30');
    await d.click(`${row} [data-testid="setting-save"]`);
    assert(/auth\.lockout\.minutes set to 30/.test(await toastText('success')), 'saved');
    await d.until('the stored value', async () => (await d.findAll(`${row}[data-value="30"]`)).length === 1);
    await shot('25-platform-settings');
    await dismissToasts();
    await findAuditEntry('SETTING_SET');
    await nav('settings');
    await d.click(`${row} [data-testid="setting-reset"]`);
    assert(/reset to its default, 15/.test(await toastText('success')), 'reset');
    await d.until('unset again', async () => (await d.findAll(`${row}[data-value=""]`)).length === 1);
    await dismissToasts();
  });

  await test('Ctrl+K palette navigates, / focuses search, Esc closes', async () => {
    await d.keys('Control', 'k');
    await d.wait('[data-testid="palette"]');
    await d.type('[data-testid="palette-input"]', 'organiz');
    await d.keys('Enter');
    await d.wait('main[data-screen="orgs"]');
    await nav('users');
    await d.click('[data-testid="users-table"]');
    await d.keys('/');
    assert(await d.exec(`return document.activeElement?.dataset.testid === 'users-search'`), '/ focuses the search box');
    await d.keys('Control', 'k');
    await d.wait('[data-testid="palette"]');
    await d.keys('Escape');
    await d.until('the palette to close', async () => (await d.findAll('[data-testid="palette"]')).length === 0);
  });

  await test('keychain: a profile password goes to the OS keychain, never to the profiles file', async () => {
    await nav('settings');
    await connectionsReady();
    const kc = await d.text('[data-testid="keychain-status"]');
    assert(/OS keychain available/.test(kc), `keychain status: ${kc}`);
    await d.click('[data-testid="profile-add"]');
    await d.clear('[data-testid="profile-name"]');
    await d.type('[data-testid="profile-name"]', 'e2e-unreachable');
    await d.clear('[data-testid="profile-port"]');
    await d.type('[data-testid="profile-port"]', '1');
    await d.type('[data-testid="profile-password"]', 's3cret-e2e-pw');
    await d.click('[data-testid="profile-save"]');
    await d.until('the profile row with a keychain password', async () => /e2e-unreachable[\s\S]*keychain/.test(await d.text('[data-testid="connections"]')));
    const file = readFileSync(join(dataDir, 'config', 'profiles.json'), 'utf8');
    assert(file.includes('e2e-unreachable') && !file.includes('s3cret-e2e-pw'), 'profiles.json holds the profile but not the password');
    await dismissToasts();
    // A server that is not there: a readable "Server unreachable" toast, the workspace unchanged.
    await d.exec(`[...document.querySelectorAll('[data-testid="connections"] tr')].find((r) => r.textContent.includes('e2e-unreachable')).querySelector('button').click()`);
    const t = await toastText('error');
    assert(/Server unreachable/.test(t) && /cannot reach/.test(t), `unreachable toast: ${t}`);
    await d.wait('[data-testid="shell"]');
    await dismissToasts();
    // Edit (here a rename and another port) keeps the stored password; a second profile of the
    // same name is refused; Remove takes the profile out of the file.
    const row = (name) => `[...document.querySelectorAll('[data-testid="connections"] tr')].find((r) => r.textContent.includes('${name}'))`;
    await d.exec(`${row('e2e-unreachable')}.querySelector('[data-testid="profile-edit"]').click()`);
    await d.clear('[data-testid="profile-name"]');
    await d.type('[data-testid="profile-name"]', 'e2e-moved');
    await d.clear('[data-testid="profile-port"]');
    await d.type('[data-testid="profile-port"]', '2');
    await d.click('[data-testid="profile-save"]');
    await d.until('the edited profile row', async () => /e2e-moved[^\n]*:2\/[\s\S]*keychain/.test(await d.text('[data-testid="connections"]')));
    const saved = JSON.parse(readFileSync(join(dataDir, 'config', 'profiles.json'), 'utf8'));
    assert(saved.some((p) => p.name === 'e2e-moved' && p.port === 2) && !saved.some((p) => p.name === 'e2e-unreachable'), 'the edit is saved under the new name');
    await dismissToasts();
    await connectionsReady();
    await d.click('[data-testid="profile-add"]');
    await d.clear('[data-testid="profile-name"]');
    await d.type('[data-testid="profile-name"]', 'e2e-moved');
    await d.click('[data-testid="profile-save"]');
    assert(/exists already/.test(await toastText('error')), 'a duplicate name is refused');
    await dismissToasts();
    await d.exec(`${row('e2e-moved')}.querySelector('[data-testid="profile-remove"]').click()`);
    await d.until('the row to go', async () => !(await d.text('[data-testid="connections"] table')).includes('e2e-moved'));
    assert(!readFileSync(join(dataDir, 'config', 'profiles.json'), 'utf8').includes('e2e-moved'), 'the profile left the file');
    await dismissToasts();
  });

  await test('Backups: back up the local workspace, then prove it restorable', async () => {
    await nav('backups');
    await d.wait('[data-testid="backups-table"]');
    assert((await d.text('[data-testid="backup-age"]')) === 'never', 'no verified backup at first');
    await d.click('[data-testid="backup-now"]');
    assert(/Backup written/.test(await toastText('success')), 'backup toast');
    await dismissToasts();
    await d.click('[data-testid="backup-verify"]');
    const t = await toastText('success');
    assert(/Backup verified: restorable/.test(t), `verify toast: ${t}`);
    await d.until('the last verified age', async () => (await d.text('[data-testid="backup-age"]')) !== 'never');
    await dismissToasts();
    await nav('dashboard');
    await d.until('the dashboard to show the verified backup', async () => /min/.test(await d.text('[data-testid="dashboard"]')));
  });

  await test('Backups: prune preview keeps the newest verified backup, then restore into a new file', async () => {
    await nav('backups');
    await d.wait('[data-testid="backups-table"] [data-backup]');
    // A second, unverified backup: the only one a keep-0-days policy may delete.
    await d.click('[data-testid="backup-now"]');
    assert(/Backup written/.test(await toastText('success')), 'second backup toast');
    await dismissToasts();
    await d.until('two backups listed', async () => (await d.findAll('[data-testid="backups-table"] [data-backup]')).length === 2);
    await d.click('[data-testid="backup-prune"]');
    await d.wait('[data-testid="prune-modal"]');
    await d.clear('[data-testid="prune-keep-days"]');
    await d.type('[data-testid="prune-keep-days"]', '0');
    await d.click('[data-testid="prune-preview"]');
    await d.wait('[data-testid="prune-plan"]');
    const kept = await d.exec(`return [...document.querySelectorAll('[data-testid="prune-keep-row"]')].map((r) => r.innerText)`);
    const del = await d.exec(`return [...document.querySelectorAll('[data-testid="prune-delete-row"] [title]')].map((c) => c.title)`);
    assert(kept.length === 1 && /verified/.test(kept[0]) && /the newest verified backup \(always kept\)/.test(kept[0]), `kept: ${JSON.stringify(kept)}`);
    assert(del.length === 1 && existsSync(del[0]), `to delete: ${JSON.stringify(del)}`);
    await shot('11-backups-prune-preview');
    await d.click('[data-testid="prune-confirm"]');
    const pt = await toastText('success');
    assert(/Pruned 1 backup, freed .*; kept 1/.test(pt), `prune toast: ${pt}`);
    assert(!existsSync(del[0]), `pruned file removed: ${del[0]}`);
    await d.until('one backup left', async () => (await d.findAll('[data-testid="backups-table"] [data-backup]')).length === 1);
    await dismissToasts();
    await findAuditEntry('BACKUP_PRUNE');
    await nav('backups');
    await d.wait('[data-testid="backups-table"] [data-backup]');
    // Restore the verified backup into a new file (a bare name goes to <data dir>/restores/).
    const name = `e2e-restored-${stamp}.db`;
    await d.click('[data-testid="backup-restore"]');
    await d.wait('[data-testid="restore-modal"]');
    await d.clear('[data-testid="restore-into"]');
    await d.type('[data-testid="restore-into"]', name);
    await restorePlanFor(name);
    await shot('12-backups-restore');
    await d.click('[data-testid="restore-run"]');
    const rt = await toastText('success');
    const file = join(dataDir, 'restores', name);
    assert(rt.includes(`into ${file}`) && /counts match/.test(rt), `restore toast: ${rt}`);
    assert(existsSync(file) && readFileSync(file).subarray(0, 15).toString() === 'SQLite format 3', `restored SQLite file at ${file}`);
    await dismissToasts();
  });

  await test('GDPR queue and database health answer on the local workspace', async () => {
    await nav('gdpr');
    await d.until('GDPR counts', async () => /^\d+$/.test(await d.text('[data-testid="gdpr-open"]')));
    await nav('health');
    await d.until('the health report', async () => /Findings \(\d+\)/.test(await d.text('[data-testid="health"]')));
    assert(/Local SQLite workspace/.test(await d.text('[data-testid="health"]')), 'health says which store');
    assert(/Free pages/.test(await d.text('[data-testid="health-sqlite"]')), 'the workspace file section');
    assert((await d.findAll('[data-testid="health-tables"], [data-testid="health-connections"], [data-testid="health-replication"]')).length === 0, 'no PostgreSQL-only sections on SQLite');
  });

  await test('API key: created from the user drawer, its secret shown once', async () => {
    await nav('users');
    await d.wait('[data-testid="users-table"] [data-row="0"]');
    await createUser(gdprEmail, 'EMPLOYEE');
    await dismissToasts();
    await searchUsers(`gdpr-${stamp}`, gdprEmail);
    await d.click(`[data-email="${gdprEmail}"]`);
    await d.wait('[data-testid="user-drawer"]');
    await d.click('[data-testid="tab-access"]');
    await d.clear('[data-testid="apikey-scopes"]');
    await d.type('[data-testid="apikey-scopes"]', 'tasks.read,tasks.write');
    await d.click('[data-testid="apikey-create"]');
    await d.wait('[data-testid="apikey-created"]');
    const secret = await d.exec(`return document.querySelector('[data-testid="apikey-secret"]').value`);
    assert(/^ncyk_[0-9a-f]{64}$/.test(secret), `the secret is shown: ${secret}`);
    assert(/will not be shown again/.test(await d.text('[data-testid="apikey-warning"]')), 'the shown-once warning');
    await shot('11-apikey-created');
    await d.click('[data-testid="apikey-done"]');
    await d.until('the key dialog to close', async () => (await d.findAll('[data-testid="apikey-created"]')).length === 0);
    await d.until('the key in the list', async () => /tasks\.read, tasks\.write/.test(await d.text('[data-testid="user-drawer"]')));
    const html = await d.exec(`return document.body.innerHTML + [...document.querySelectorAll('input')].map((i) => i.value).join(' ')`);
    assert(!html.includes(secret), 'the secret is not shown again');
    await d.keys('Escape');
    await dismissToasts();
  });

  await test('consents: granted and withdrawn from the user drawer, with history and audit', async () => {
    const who = 'employee@test-org.com';
    await nav('users');
    await searchUsers(who, who);
    await d.click(`[data-email="${who}"]`);
    await d.wait('[data-testid="user-drawer"]');
    await d.click('[data-testid="tab-consents"]');
    await d.wait('[data-testid="consents-none"]');
    await d.type('[data-testid="consent-purpose"]', 'marketing.email');
    await d.type('[data-testid="consent-source"]', 'e2e');
    await d.click('[data-testid="consent-grant"]');
    assert(/Consent granted: marketing\.email/.test(await toastText('success')), 'granted toast');
    const cur = '[data-testid="consents-current"] tr[data-purpose="marketing.email"]';
    await d.until('marketing.email granted', async () => (await d.findAll(`${cur}[data-granted="true"]`)).length === 1);
    const row = await d.text(cur);
    assert(/granted/.test(row) && /\be2e\b/.test(row) && /\d{4}-\d\d-\d\d/.test(row), `current state: ${row}`);
    await dismissToasts();
    await d.click(`${cur} [data-testid="consent-withdraw"]`);
    assert(/Consent withdrawn: marketing\.email/.test(await toastText('success')), 'withdrawn toast');
    await d.until('marketing.email withdrawn', async () => (await d.findAll(`${cur}[data-granted="false"]`)).length === 1);
    assert((await d.findAll(`${cur} [data-testid="consent-withdraw"]`)).length === 0, 'no Withdraw on a withdrawn purpose');
    const hist = '[data-testid="consents-history"] tr[data-purpose="marketing.email"]';
    await d.until('two history entries', async () => (await d.findAll(hist)).length === 2);
    const h = await d.until('who made each change', async () => {
      const t = await d.text('[data-testid="consents-history"]');
      return (t.match(/admin@ncy-8\.com/g) ?? []).length === 2 ? t : null;
    });
    assert(/withdrawn[\s\S]*granted/.test(h) && /\be2e\b/.test(h), `history newest first with the source: ${h}`);
    await dismissToasts();
    await d.clear('[data-testid="consent-purpose"]');
    await d.type('[data-testid="consent-purpose"]', 'x'.repeat(101));
    await d.click('[data-testid="consent-grant"]');
    const err = await toastText('error');
    assert(/purpose/.test(err) && /1 to 100 characters/.test(err) && !/Invalid \{|\bfield:/.test(err), `invalid purpose toast: ${err}`);
    assert((await d.findAll(hist)).length === 2, 'nothing recorded for an invalid purpose');
    await dismissToasts();
    await d.clear('[data-testid="consent-purpose"]');
    await shot('17-user-consents');
    await d.keys('Escape');
    await d.until('the drawer to close', async () => (await d.findAll('[data-testid="user-drawer"]')).length === 0);
    await nav('audit');
    for (const [action, want] of [['GDPR_CONSENT_GRANT', /"?source"?[\s\S]*e2e/], ['GDPR_CONSENT_WITHDRAW', /granted/]]) {
      await d.clear('[data-testid="audit-action"]');
      await d.type('[data-testid="audit-action"]', action);
      const r = await d.until(`a ${action} row`, async () => {
        const rows = await d.exec(`return [...document.querySelectorAll('[data-testid="audit-table"] [data-row]')].map((r) => r.dataset.row + '|' + r.textContent)`);
        return rows.find((x) => x.includes(action) && x.includes('Consent')) ?? null;
      });
      await d.click(`[data-testid="audit-table"] [data-row="${r.split('|')[0]}"]`);
      await d.wait('[data-testid="audit-drawer"]');
      const body = await d.text('[data-testid="audit-drawer"]');
      assert(body.includes('marketing.email') && body.includes('admin@ncy-8.com') && want.test(body), `${action} entry: ${body.slice(0, 400)}`);
      await d.keys('Escape');
      await d.until('the audit drawer to close', async () => (await d.findAll('[data-testid="audit-drawer"]')).length === 0);
    }
    await d.clear('[data-testid="audit-action"]');
    await dismissToasts();
    // The GDPR request drawer counts the subject's consents.
    await fileGdprRequest(who, who, 'ACCESS');
    await dismissToasts(); // the next success toast must be the rejection's
    await d.until('the consent count', async () => (await d.findAll('[data-testid="gdpr-consents"]')).length && /0 of 1 purposes granted · 2 changes/.test(await d.text('[data-testid="gdpr-consents"]')));
    await d.type('[data-testid="gdpr-reject-reason"]', 'e2e: consent count only');
    await d.click('[data-testid="gdpr-reject"]');
    assert(/Request rejected/.test(await toastText('success')), 'the request is closed again');
    await d.keys('Escape');
    await dismissToasts();
  });

  await test('GDPR export: a request filed in the window, identity recorded, bundle written to a chosen folder', async () => {
    await fileGdprRequest(gdprEmail, gdprEmail, 'EXPORT');
    assert(/Received/.test(await d.text('[data-testid="gdpr-state"]')), 'a new request is received');
    await d.until('the request in the queue', async () => (await d.findAll(`[data-testid="gdpr-table"] tr[data-subject="${gdprEmail}"][data-kind="EXPORT"]`)).length === 1);
    await d.type('[data-testid="gdpr-verify-method"]', 'ID document checked by video call');
    await d.click('[data-testid="gdpr-verify"]');
    await d.until('the identity check', async () => /verified .*ID document/.test(await d.text('[data-testid="gdpr-identity"]')));
    await d.until('no consents of the new user', async () => (await d.findAll('[data-testid="gdpr-consents"]')).length && /none recorded/.test(await d.text('[data-testid="gdpr-consents"]')));
    const dir = join(dataDir, 'gdpr-e2e-exports');
    await d.clear('[data-testid="gdpr-export-dir"]');
    await d.type('[data-testid="gdpr-export-dir"]', dir);
    await d.click('[data-testid="gdpr-export-run"]');
    const path = await d.until('the export result', async () => (await d.findAll('[data-testid="gdpr-export-path"]')).length && d.text('[data-testid="gdpr-export-path"]'), 30000);
    assert(path.startsWith(dir), `bundle inside the chosen folder: ${path}`);
    const manifestFile = join(path, 'manifest.json');
    assert(existsSync(manifestFile), `${manifestFile} exists`);
    const m = JSON.parse(readFileSync(manifestFile, 'utf8'));
    assert(m.subject.email === gdprEmail && Number(m.row_counts.User) === 1 && Number(m.row_counts.ApiKey) === 1, `manifest: ${JSON.stringify(m.row_counts)}`);
    assert(/GDPR_IDENTITY_VERIFIED[\s\S]*GDPR_EXPORT/.test(await d.text('[data-testid="gdpr-history"]')), 'history lists the steps');
    await dismissToasts();
    await shot('12-gdpr-export');
    await d.type('[data-testid="gdpr-extend-reason"]', 'complex request: many systems');
    await d.click('[data-testid="gdpr-extend"]');
    assert(/Deadline extended/.test(await toastText('success')), 'extended');
    await d.until('the extension on the deadline', async () => /extended from \d{4}-\d\d-\d\d: complex request/.test(await d.text('[data-testid="gdpr-drawer"]')));
    await dismissToasts();
    await d.click('[data-testid="gdpr-complete"]');
    assert(/Request completed/.test(await toastText('success')), 'completed');
    await d.keys('Escape');
    await dismissToasts();
  });

  await test('GDPR erasure: typed email, receipt with a clean sweep, the user row anonymized', async () => {
    await fileGdprRequest(`gdpr-${stamp}`, gdprEmail, 'ERASURE');
    await d.until('the erasure request', async () => /Erasure request/.test(await d.text('[data-testid="gdpr-drawer"]')));
    const subjectId = await d.exec(`return document.querySelector('[data-testid="gdpr-subject"]').dataset.subjectId`);
    assert(/^[0-9a-f-]{36}$/.test(subjectId), `subject id ${subjectId}`);
    await d.type('[data-testid="gdpr-verify-method"]', 'signed letter and ID');
    await d.click('[data-testid="gdpr-verify"]');
    await d.until('the identity check', async () => /verified/.test(await d.text('[data-testid="gdpr-identity"]')));
    await dismissToasts();
    // A legal hold refuses the erasure with the crate's message; released, the erasure runs.
    await d.type('[data-testid="gdpr-hold-reason"]', `case ${stamp}`);
    await d.click('[data-testid="gdpr-hold-place"]');
    assert(/Legal hold placed/.test(await toastText('success')), 'hold placed');
    await d.until('the hold warning', async () => (await d.findAll('[data-testid="gdpr-holds"]')).length === 1);
    await dismissToasts();
    await d.click('[data-testid="gdpr-erase"]');
    await d.type('[data-testid="gdpr-erase-confirm"]', gdprEmail);
    await d.click('[data-testid="gdpr-erase-submit"]');
    const refusal = await d.text('[data-testid="gdpr-erase-error"]');
    assert(/legal hold/.test(refusal) && /refused/.test(refusal) && !/Conflict \{|Error \{/.test(refusal), `refusal: ${refusal}`);
    await d.keys('Escape');
    await d.until('the modal to close', async () => (await d.findAll('[data-testid="gdpr-erase-modal"]')).length === 0);
    await dismissToasts();
    await d.type('[data-testid="gdpr-hold-reason"]', 'case closed');
    await d.click('[data-testid="gdpr-hold-release"]');
    assert(/Legal hold released/.test(await toastText('success')), 'hold released');
    await d.until('no hold warning', async () => (await d.findAll('[data-testid="gdpr-holds"]')).length === 0);
    await dismissToasts();
    await d.click('[data-testid="gdpr-erase"]');
    await d.wait('[data-testid="gdpr-erase-modal"]');
    const disabled = () => d.exec(`return document.querySelector('[data-testid="gdpr-erase-submit"]').disabled`);
    assert(await disabled(), 'erase disabled before typing');
    await d.type('[data-testid="gdpr-erase-confirm"]', 'someone@else.com');
    assert(await disabled(), 'erase disabled for a wrong email');
    await d.clear('[data-testid="gdpr-erase-confirm"]');
    await d.type('[data-testid="gdpr-erase-confirm"]', gdprEmail);
    await d.click('[data-testid="gdpr-erase-submit"]');
    await d.wait('[data-testid="gdpr-receipt"]', 30000);
    const rc = await d.text('[data-testid="gdpr-receipt"]');
    assert(/sweep clean/.test(await d.text('[data-testid="gdpr-sweep"]')), `clean sweep: ${rc.slice(0, 200)}`);
    assert(/ApiKey[\s\S]*deleted/.test(rc) && /User/.test(rc), `receipt rules: ${rc.slice(0, 400)}`);
    const held = await d.text('[data-testid="gdpr-backups"]');
    assert(/Backups still holding/i.test(rc) && / until \d{4}-\d\d-\d\d|^None/.test(held), `backups holding data listed: ${held}`);
    assert(/anonymized/.test(await d.text('[data-testid="gdpr-subject"]')), 'the subject shows as anonymized');
    await dismissToasts();
    await shot('13-gdpr-erasure-receipt');
    await d.click('[data-testid="gdpr-complete"]');
    await d.until('the request completed', async () => /Completed/.test(await d.text('[data-testid="gdpr-state"]')));
    await d.keys('Escape');
    await dismissToasts();
    await nav('users');
    await d.select('[aria-label="Deleted"]', 'all');
    await d.type('[data-testid="users-search"]', subjectId.slice(0, 8));
    const anon = `anonymized_${subjectId}@deleted.invalid`;
    await d.until('the anonymized user row', async () => (await d.findAll(`[data-email="${anon}"]`)).length === 1);
    await d.clear('[data-testid="users-search"]');
    await d.type('[data-testid="users-search"]', `gdpr-${stamp}`);
    await d.until('no row with the former email', async () => (await d.findAll(`[data-email="${gdprEmail}"]`)).length === 0);
  });

  await test('the drawer of an anonymized user opens without errors; its consents are read-only', async () => {
    await nav('users');
    await d.select('[aria-label="Deleted"]', 'all');
    await d.clear('[data-testid="users-search"]');
    await d.type('[data-testid="users-search"]', 'anonymized_');
    const anon = await d.until('the anonymized user', async () => d.exec(`return document.querySelector('[data-email$="@deleted.invalid"]')?.dataset.email ?? null`));
    await dismissToasts();
    await d.click(`[data-email="${anon}"]`);
    await d.wait('[data-testid="user-drawer"]');
    await d.until('the deleted badge', async () => /deleted/.test(await d.text('[data-testid="user-drawer"]')));
    await d.click('[data-testid="tab-access"]');
    await d.until('no sessions or keys left', async () => /No sessions\.[\s\S]*No API keys\./.test(await d.text('[data-testid="user-drawer"]')));
    assert((await d.findAll('[data-testid="apikey-form"]')).length === 0, 'no key form for a deleted user');
    await d.click('[data-testid="tab-history"]');
    await d.click('[data-testid="tab-consents"]');
    await d.until('the consents tab', async () => /current[\s\S]*history/i.test(await d.text('[data-testid="user-drawer"]')));
    assert((await d.findAll('[data-testid="consent-form"]')).length === 0, 'no grant form for a deleted user');
    await sleep(500);
    assert((await d.findAll('[data-testid="toast-error"]')).length === 0, `no error toast: ${(await d.findAll('[data-testid="toast-error"]')).length ? await toastText('error') : ''}`);
    await shot('18-anonymized-user-drawer');
    await d.keys('Escape');
    await d.until('the drawer to close', async () => (await d.findAll('[data-testid="user-drawer"]')).length === 0);
    await d.select('[aria-label="Deleted"]', '');
    await d.clear('[data-testid="users-search"]');
  });

  await test('a new organization is created in the window; deleting it needs the slug typed', async () => {
    const slug = await createOrg(`E2E Org ${stamp}`);
    await shot('14-org-created');
    await deleteOrg(slug);
    assert(/Organization deleted/.test(await toastText('success')), 'deleted toast');
    await d.keys('Escape');
    await d.until('the row to leave the table', async () => !(await d.text('[data-testid="orgs-table"]')).includes(slug));
    await dismissToasts();
  });

  await test('four eyes: an organization delete waits for a second admin on the Approvals screen; the requester cannot approve it', async () => {
    const admin2 = `admin2-${stamp}@ncy-8.com`;
    const pw = await createUser(admin2, 'ADMIN');
    // The policy, set on the Approvals screen (settings.write).
    await nav('approvals');
    await d.wait('[data-testid="approvals-policy"]');
    await d.click('[data-testid="approvals-policy-orgs.delete"]');
    await d.click('[data-testid="approvals-policy-save"]');
    assert(/Approval policy saved: 1 action/.test(await toastText('success')), 'policy saved');
    await dismissToasts();
    // The delete is filed, not run.
    const slug = await createOrg(`E2E Four Eyes ${stamp}`);
    await deleteOrg(slug);
    const filed = await toastText('info');
    assert(/needs a second operator's approval: filed as approval request/.test(filed), `filed toast: ${filed}`);
    await d.keys('Escape');
    await d.keys('Escape');
    await dismissToasts();
    await nav('orgs');
    await d.until('the organization still listed', async () => (await d.text('[data-testid="orgs-table"]')).includes(slug));
    // The requester sees it waiting, with no way to approve it.
    await nav('approvals');
    const row = `[data-testid="approvals-table"] tr[data-action="orgs.delete"][data-status="PENDING"]`;
    await d.wait(row);
    assert((await d.findAll(`${row} [data-testid="approval-approve"]`)).length === 0, 'no Approve for the requester');
    assert((await d.findAll(`${row} [data-testid="approval-own"]`)).length === 1, 'marked as waiting for another operator');
    await shot('25-approval-pending');
    await logout();
    // The second admin approves: the organization is deleted, once.
    await login(admin2, pw);
    await nav('approvals');
    await d.wait(`${row} [data-testid="approval-approve"]`);
    await d.click(`${row} [data-testid="approval-approve"]`);
    assert(/Approved and run: delete organization/.test(await toastText('success')), 'approved toast');
    await d.select('[data-testid="approvals-status"]', 'EXECUTED');
    await d.until('the executed request', async () => (await d.findAll('[data-testid="approvals-table"] tr[data-action="orgs.delete"][data-status="EXECUTED"]')).length === 1);
    assert((await d.text('[data-testid="approvals-table"]')).includes(`by ${admin2}`), 'the approver is shown');
    await shot('26-approval-executed');
    await nav('orgs');
    await d.until('the organization gone', async () => !(await d.text('[data-testid="orgs-table"]')).includes(slug));
    // Back to no policy, so later steps delete directly.
    await nav('approvals');
    await d.wait('[data-testid="approvals-policy"]');
    await d.click('[data-testid="approvals-policy-orgs.delete"]');
    await d.click('[data-testid="approvals-policy-save"]');
    assert(/no action needs a second operator/.test(await toastText('success')), 'policy cleared');
    await dismissToasts();
    await logout();
    await login();
  });

  if (process.env.E2E_PG_URL) {
    await test('connection manager: a PostgreSQL profile is saved, tested, switched to and logged into', async () => {
      const u = new URL(process.env.E2E_PG_URL);
      await nav('settings');
      await connectionsReady();
      await d.click('[data-testid="profile-add"]');
      await d.clear('[data-testid="profile-name"]');
      await d.type('[data-testid="profile-name"]', 'e2e-pg');
      await d.clear('[data-testid="profile-host"]');
      await d.type('[data-testid="profile-host"]', u.hostname);
      await d.clear('[data-testid="profile-port"]');
      await d.type('[data-testid="profile-port"]', u.port);
      await d.clear('[data-testid="profile-database"]');
      await d.type('[data-testid="profile-database"]', u.pathname.slice(1));
      await d.clear('[data-testid="profile-user"]');
      await d.type('[data-testid="profile-user"]', u.username);
      await d.select('[data-testid="profile-sslmode"]', 'disable');
      assert((await d.findAll('[data-testid="profile-tls-warning"]')).length === 0, 'no TLS warning on this machine');
      // Unverified TLS to another machine is allowed, with a warning; a CA file needs verify-full.
      await d.clear('[data-testid="profile-host"]');
      await d.type('[data-testid="profile-host"]', 'db.example.com');
      await d.until('the TLS warning', async () => /sslmode=disable to db\.example\.com/.test(await d.text('[data-testid="profile-tls-warning"]')));
      await d.type('[data-testid="profile-ca-file"]', '/nonexistent/ca.pem');
      await d.click('[data-testid="profile-test"]');
      assert(/ca_file/.test(await toastText('error')), 'a missing CA file is named');
      await dismissToasts();
      // Clearing alone fires no input event: a blank typed after it does (and counts as none).
      await d.clear('[data-testid="profile-ca-file"]');
      await d.type('[data-testid="profile-ca-file"]', ' ');
      await d.clear('[data-testid="profile-host"]');
      await d.type('[data-testid="profile-host"]', u.hostname);
      await d.click('[data-testid="profile-test"]');
      await d.until('the test result', async () => /schema is current/.test(await d.text('[data-testid="profile-form"]')));
      // A read replica is connected too when the profile names one (this machine has no
      // standby: the primary stands in for it), then left out of the saved profile.
      await d.type('[data-testid="profile-replica-host"]', u.hostname);
      await d.click('[data-testid="profile-test"]');
      await d.until('the replica reached', async () => new RegExp(`read replica ${u.hostname} reached`).test(await d.text('[data-testid="profile-form"]')));
      await d.clear('[data-testid="profile-replica-host"]');
      await d.type('[data-testid="profile-replica-host"]', ' ');
      await d.click('[data-testid="profile-save"]');
      await d.until('the saved profile row', async () => /e2e-pg/.test(await d.text('[data-testid="connections"] table')));
      await dismissToasts();
      await d.exec(`[...document.querySelectorAll('[data-testid="connections"] tr')].find((r) => r.textContent.includes('e2e-pg')).querySelector('button').click()`);
      await d.wait('[data-testid="login-form"]');
      assert(/PostgreSQL profile e2e-pg/.test(await d.text('[data-testid="workspace-label"]')), 'login names the profile');
      await login();
      await nav('health');
      await d.until('the PostgreSQL health report', async () => /PostgreSQL/.test(await d.text('[data-testid="health"]')) && /Findings \(\d+\)/.test(await d.text('[data-testid="health"]')), 20000);
      await shot('10-health-postgres');
      await nav('sync');
      await d.until('the sync screen', async () => /offline cache|Last pull/i.test(await d.text('[data-testid="sync"]')));
      await nav('users');
      await d.until('the server users', async () => (await d.exec(`return document.querySelectorAll('[data-testid="users-table"] [data-email]').length`)) === 3);
      // Back to the local workspace for the remaining tests.
      await switchTo('Local workspace');
    });

    await test('operators: an admin provisions a database login on the Operators screen; the operator connects with it (no email login), and once suspended by another admin is refused at the next click', async () => {
      const u = new URL(process.env.E2E_PG_URL);
      await switchTo('e2e-pg');
      await nav('operators');
      await d.type('[data-testid="operator-email"]', 'manager@test-org.com');
      await d.click('[data-testid="operator-provision"]');
      await d.wait('[data-testid="operator-password"]');
      const password = (await d.text('[data-testid="operator-password"]')).trim();
      await d.until('the operator row', async () => /manager@test-org\.com[\s\S]*ncy_manager/.test(await d.text('[data-testid="operators-table"]')));
      const role = await d.exec(`return document.querySelector('[data-testid="operators-table"] tr[data-email="manager@test-org.com"] td.mono').textContent.trim()`);
      assert(/^ncy_op_[0-9a-f]{12}$/.test(role) && password.length >= 20, `role ${role}`);
      await shot('20-operators');
      await d.click('[data-testid="operator-secret-done"]');
      await dismissToasts();
      // A profile holding the operator's own login: the connection is the identity.
      await nav('settings');
      await connectionsReady();
      await d.click('[data-testid="profile-add"]');
      await d.clear('[data-testid="profile-name"]');
      await d.type('[data-testid="profile-name"]', 'e2e-operator');
      await d.clear('[data-testid="profile-host"]');
      await d.type('[data-testid="profile-host"]', u.hostname);
      await d.clear('[data-testid="profile-port"]');
      await d.type('[data-testid="profile-port"]', u.port);
      await d.clear('[data-testid="profile-database"]');
      await d.type('[data-testid="profile-database"]', u.pathname.slice(1));
      await d.clear('[data-testid="profile-user"]');
      await d.type('[data-testid="profile-user"]', role);
      await d.type('[data-testid="profile-password"]', password);
      await d.select('[data-testid="profile-sslmode"]', 'disable');
      await d.click('[data-testid="profile-save"]');
      await d.until('the operator profile row', async () => /e2e-operator/.test(await d.text('[data-testid="connections"] table')));
      await dismissToasts();
      await d.exec(`[...document.querySelectorAll('[data-testid="connections"] tr')].find((r) => r.textContent.includes('e2e-operator')).querySelector('button').click()`);
      await d.until('the operator signed in by their database login', async () => (await d.findAll('[data-testid="me"]')).length > 0 && (await d.text('[data-testid="me"]')) === 'manager@test-org.com');
      await dismissToasts();
      await nav('tasks');
      await d.until('the manager\'s tasks, read through their own role', async () => (await d.findAll('[data-testid="tasks-table"] [data-row]')).length > 0);
      // Another administrator suspends the operator (the CLI, as the admin).
      const cli = (args, input) => execFileSync(process.env.E2E_CLI, ['--database-url', process.env.E2E_PG_URL, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
      cli(['login', '--email', 'admin@ncy-8.com', '--password-stdin'], 'admin123\n');
      cli(['users', 'suspend', 'manager@test-org.com']);
      // The next click is refused and signs the window out, saying why (the screen may be gone
      // before it settles, so the click is not followed by nav()'s wait for it).
      await d.click('[data-nav="orgs"]');
      const err = await toastText('error');
      assert(/Signed out[\s\S]*(not permitted to log in|suspended|refused)/i.test(err), `refused at the next click: ${err}`);
      await d.wait('[data-testid="login-form"]');
      await shot('21-operator-suspended');
      await dismissToasts();
      cli(['users', 'reactivate', 'manager@test-org.com']);
      cli(['operators', 'revoke', 'manager@test-org.com']);
      await d.select('[data-testid="login-workspace"]', '');
      await d.until('the local workspace', async () => /Local workspace/.test(await d.text('[data-testid="workspace-label"]')));
      await login();
    });

    await test('PostgreSQL: Health sets slow-query logging (shown, audited), charts Prometheus, cancels and terminates sessions; Backups restore into a new database, and over the live one only with force and its name typed', async () => {
      const u = new URL(process.env.E2E_PG_URL);
      const dbName = u.pathname.slice(1);
      await switchTo('e2e-pg');

      // Slow-query logging: the 'all' warning, the new value after refresh, the audit entry.
      await nav('health');
      const before = await d.until('the logging settings', async () => {
        const el = await d.findAll('[data-testid="health-log-current"]');
        return el.length ? d.text('[data-testid="health-log-current"]') : null;
      }, 20000);
      const value = before === '1234' ? '2345' : '1234';
      await d.select('[data-testid="health-log-statement"]', 'all');
      await d.until('the log_statement=all warning', async () => /heavy on a busy production server/.test(await d.text('[data-testid="health-logging"]')));
      await d.select('[data-testid="health-log-statement"]', '');
      await d.type('[data-testid="health-log-min"]', value);
      await d.click('[data-testid="health-log-apply"]');
      const lt = await toastText('success');
      assert(lt.includes(`log_min_duration_statement = ${value} ms`), `logging toast: ${lt}`);
      await dismissToasts();
      await d.click('[data-testid="health-refresh"]');
      await d.until(`log_min_duration_statement ${value} after refresh`, async () => (await d.text('[data-testid="health-log-current"]')) === value, 20000);
      assert(psql('SHOW log_min_duration_statement') === `${value}ms`, 'the server took the setting');
      const audited = psql(`SELECT count(*) FROM "AuditLog" WHERE "action" = 'health.set_logging' AND "new_value"::text LIKE '%${value}%'`);
      assert(Number(audited) >= 1, `health.set_logging audit rows: ${audited}`);
      await shot('13-health-logging');

      // Prometheus charts (scripts/e2e.sh starts Prometheus + postgres_exporter on loopback).
      if (process.env.E2E_PROM_URL) {
        await d.clear('[data-testid="health-prom-url"]');
        await d.type('[data-testid="health-prom-url"]', process.env.E2E_PROM_URL);
        await d.click('[data-testid="health-prom-save"]');
        assert(/Prometheus URL saved/.test(await toastText('success')), 'URL saved toast');
        await dismissToasts();
        await d.select('[data-testid="health-prom-window"]', '15m');
        const pts = await d.until('charts with data points', async () => {
          const n = await d.exec(`return ['connections', 'tps'].map((k) => Number(document.querySelector('[data-testid="chart-' + k + '"]')?.dataset.points ?? 0))`);
          if (n.every((x) => x > 0)) return n;
          if ((await d.findAll('[data-testid="health-prom-error"]')).length) throw new Error(await d.text('[data-testid="health-prom-error"]'));
          await d.exec(`document.querySelector('[data-testid="health-prom-load"]')?.click()`);
          await sleep(1500);
          return null;
        }, 60000);
        const paths = await d.exec(`return document.querySelectorAll('[data-testid="chart-tps"] path[data-series], [data-testid="chart-connections"] path[data-series]').length`);
        assert(paths >= 2, `chart lines drawn: ${paths} (points ${pts})`);
        const saved = JSON.parse(readFileSync(join(dataDir, 'config', 'settings.json'), 'utf8'));
        assert(saved.prometheus_url === process.env.E2E_PROM_URL, 'the Prometheus URL is kept in the app settings');
        await d.exec(`document.querySelector('[data-testid="health-prometheus"]').scrollIntoView()`);
        await sleep(300);
        await shot('14-health-prometheus');
      }
      // Put the server setting back as it was.
      await dismissToasts();
      await d.clear('[data-testid="health-log-min"]');
      await d.type('[data-testid="health-log-min"]', before);
      await d.click('[data-testid="health-log-apply"]');
      assert((await toastText('success')).includes(`= ${before} ms`), 'setting restored');
      await dismissToasts();

      // Cancel a query waiting on a lock and terminate the idle-in-transaction session holding
      // it (confirmed, audited); the waiting session's row carries its finding.
      psql('CREATE TABLE IF NOT EXISTS e2e_health_lock (id int)');
      const idle = spawn('psql', [process.env.E2E_PG_URL, '-tAXq'], { env: { ...process.env, PGAPPNAME: 'e2e-idle' } });
      let idleOut = '';
      idle.stdout.on('data', (b) => { idleOut += b; });
      idle.stdin.write('BEGIN;\nLOCK TABLE e2e_health_lock IN ACCESS EXCLUSIVE MODE;\nSELECT pg_backend_pid();\n');
      let sleeper = null;
      try {
        const idlePid = await d.until('the idle session pid', async () => /^\d+$/m.exec(idleOut)?.[0]);
        sleeper = spawn('psql', [process.env.E2E_PG_URL, '-tAXc', 'SELECT pg_sleep(300) FROM e2e_health_lock'], { env: { ...process.env, PGAPPNAME: 'e2e-sleep' } });
        const sleeperErr = [];
        sleeper.stderr.on('data', (b) => sleeperErr.push(String(b)));
        const sleeperDone = new Promise((res) => sleeper.on('exit', res));
        // Waiting on the lock (not merely started): the report's finding is about that wait.
        const sleepPid = await d.until('the sleeping session waiting on the lock', async () => psql(`SELECT pid FROM pg_stat_activity WHERE application_name = 'e2e-sleep' AND wait_event_type = 'Lock'`));
        await d.until('both sessions listed', async () => {
          await d.click('[data-testid="health-refresh"]');
          await d.until('the report', async () => !(await d.exec(`return document.querySelector('[data-testid="health-refresh"]').disabled`)), 20000);
          return (await d.findAll(`[data-testid="health-session-row"][data-pid="${idlePid}"]`)).length && (await d.findAll(`[data-testid="health-session-row"][data-pid="${sleepPid}"]`)).length;
        }, 30000);
        assert(/idle in transaction/.test(await d.text(`[data-testid="health-session-row"][data-pid="${idlePid}"]`)), 'the idle-in-transaction state is shown');
        // A report read before the wait showed up has no finding yet: refresh until one has it.
        await d.until('the waiting session with its finding', async () => {
          const f = await d.findAll(`[data-testid="health-session-row"][data-pid="${sleepPid}"] [data-testid="health-session-finding"]`);
          if (f.length && /finish the blocking transaction/.test(await d.text(`[data-testid="health-session-row"][data-pid="${sleepPid}"] [data-testid="health-session-finding"]`))) return true;
          await d.click('[data-testid="health-refresh"]');
          await d.until('the report', async () => !(await d.exec(`return document.querySelector('[data-testid="health-refresh"]').disabled`)), 20000);
          return false;
        }, 30000);
        assert((await d.findAll('[data-testid="health-blocked-row"]')).length >= 1, 'the blocked lock is listed');
        await d.exec(`document.querySelector('[data-testid="health-sessions"]').scrollIntoView()`);
        await shot('16-health-session-finding');
        // The sessions table fits its card (its action buttons are not clipped).
        const [tableWidth, cardWidth] = await d.exec(`const c = document.querySelector('[data-testid="health-sessions"]'); return [Math.max(...[...c.querySelectorAll('table')].map((t) => t.scrollWidth)), c.clientWidth]`);
        assert(tableWidth <= cardWidth, `sessions table ${tableWidth}px in a ${cardWidth}px card`);
        await d.click(`[data-testid="health-session-row"][data-pid="${sleepPid}"] [data-testid="health-cancel"]`);
        await d.wait('[data-testid="health-confirm"]');
        assert(/pg_sleep/.test(await d.text('[data-testid="health-confirm"]')), 'the confirmation shows the query');
        await d.click('[data-testid="health-confirm-submit"]');
        assert(new RegExp(`Query of session ${sleepPid} cancelled`).test(await toastText('success')), 'cancel toast');
        await sleeperDone;
        assert(/canceling statement due to user request/.test(sleeperErr.join('')), `the query was cancelled: ${sleeperErr.join('')}`);
        await dismissToasts();
        await d.until('the refreshed session list', async () => (await d.findAll(`[data-testid="health-session-row"][data-pid="${idlePid}"] [data-testid="health-terminate"]`)).length);
        await d.click(`[data-testid="health-session-row"][data-pid="${idlePid}"] [data-testid="health-terminate"]`);
        await d.wait('[data-testid="health-confirm"]');
        await sleep(300);
        await shot('16-health-terminate-confirm');
        await d.click('[data-testid="health-confirm-submit"]');
        assert(new RegExp(`Session ${idlePid} terminated`).test(await toastText('success')), 'terminate toast');
        await d.until('the session to be gone', async () => psql(`SELECT count(*) FROM pg_stat_activity WHERE pid = ${idlePid}`) === '0');
        const acts = psql(`SELECT string_agg(DISTINCT "action", ',' ORDER BY "action") FROM "AuditLog" WHERE "action" IN ('health.cancel_query', 'health.terminate_session')`);
        assert(acts === 'health.cancel_query,health.terminate_session', `audited signals: ${acts}`);
        await dismissToasts();
      } finally {
        sleeper?.kill();
        idle.kill();
      }

      // Backups on PostgreSQL: PITR readiness; a pg_dump backup restored into a new database;
      // over the existing one: refused without force, and with force only once its name is typed.
      await nav('backups');
      await d.until('the PITR readiness', async () => /wal_level/.test(await d.text('[data-testid="pitr"]')), 15000);
      await d.click('[data-testid="pitr-script"]');
      await d.wait('[data-testid="pitr-modal"]');
      await d.click('[data-testid="pitr-generate"]');
      await d.until('the recovery script', async () => {
        const t = await d.exec(`return document.querySelector('[data-testid="pitr-script-text"]')?.value ?? ''`);
        return /recovery\.signal/.test(t) && /recovery_target_time/.test(t);
      });
      await d.keys('Escape');
      await d.click('[data-testid="backup-now"]');
      assert(/Backup written/.test(await toastText('success', 60000)), 'pg backup toast');
      await dismissToasts();
      const copy = `${dbName}_r`.slice(0, 60);
      await d.click('[data-testid="backup-restore"]');
      await d.clear('[data-testid="restore-into"]');
      await d.type('[data-testid="restore-into"]', copy);
      await restorePlanFor(copy);
      await d.click('[data-testid="restore-run"]');
      const rt = await toastText('success');
      assert(rt.includes(`into ${copy}`) && /counts match/.test(rt), `pg restore toast: ${rt}`);
      try {
        const orig = psql(`SELECT count(*) FROM "User"`);
        const copyUrl = new URL(process.env.E2E_PG_URL);
        copyUrl.pathname = `/${copy}`;
        const restored = execFileSync('psql', [copyUrl.toString(), '-tAXc', 'SELECT count(*) FROM "User"'], { encoding: 'utf8' }).trim();
        assert(orig === restored && Number(orig) >= 3, `users in the restored copy: ${restored} vs ${orig}`);
      } finally {
        psql(`DROP DATABASE IF EXISTS "${copy}" WITH (FORCE)`);
      }
      await dismissToasts();
      // Per-table restore: the plan shown in the dialog names the one table chosen, and only
      // that table is restored, equal to the source.
      const one = `${dbName}_t`.slice(0, 60);
      await d.click('[data-testid="backup-restore"]');
      await d.wait('[data-testid="restore-modal"]');
      await d.clear('[data-testid="restore-into"]');
      await d.type('[data-testid="restore-into"]', one);
      await d.click('[data-testid="restore-tables"] summary');
      await d.click('[data-testid="restore-tables"] [data-table="public.Task"]');
      await d.until('the plan for one table', () => d.exec(`const p = document.querySelector('[data-testid="restore-plan"]'); return !!p && p.dataset.action === 'create' && p.dataset.tables === '1' && p.innerText.includes(arguments[0])`, one));
      await shot('15b-backups-table-restore-plan');
      await d.click('[data-testid="restore-run"]');
      const tt = await toastText('success');
      assert(tt.includes(`into ${one}`), `per-table restore toast: ${tt}`);
      try {
        const oneUrl = new URL(process.env.E2E_PG_URL);
        oneUrl.pathname = `/${one}`;
        const q = (sql) => execFileSync('psql', [oneUrl.toString(), '-tAXc', sql], { encoding: 'utf8' }).trim();
        assert(q(`SELECT count(*) FROM "Task"`) === psql(`SELECT count(*) FROM "Task"`), 'the Task rows restored');
        assert(q(`SELECT to_regclass('public."User"') IS NULL`) === 't', 'no other table restored');
      } finally {
        psql(`DROP DATABASE IF EXISTS "${one}" WITH (FORCE)`);
      }
      await dismissToasts();
      await d.click('[data-testid="backup-restore"]');
      await d.clear('[data-testid="restore-into"]');
      await d.type('[data-testid="restore-into"]', dbName);
      await restorePlanFor(dbName);
      await d.click('[data-testid="restore-run"]');
      const et = await toastText('error');
      assert(/already exists/.test(et), `restore over the existing database without force: ${et}`);
      await dismissToasts();
      await d.click('[data-testid="backup-restore"]');
      await d.clear('[data-testid="restore-into"]');
      await d.type('[data-testid="restore-into"]', dbName);
      await d.click('[data-testid="restore-force"]');
      await d.until('the plan with force', () => d.exec(`return document.querySelector('[data-testid="restore-plan"]')?.dataset.action === 'replace'`));
      await d.click('[data-testid="restore-run"]');
      await d.wait('[data-testid="confirm-restore"]');
      const disabled = () => d.exec(`return document.querySelector('[data-testid="confirm-restore-submit"]').disabled`);
      assert(await disabled(), 'replace disabled before typing');
      await d.type('[data-testid="confirm-restore-input"]', `${dbName}x`);
      assert(await disabled(), 'replace disabled for a wrong name');
      await d.clear('[data-testid="confirm-restore-input"]');
      await d.type('[data-testid="confirm-restore-input"]', dbName);
      assert(!(await disabled()), 'replace enabled once the name is typed');
      await shot('15-backups-restore-confirm');
      await d.keys('Escape');
      await d.keys('Escape');
      await d.until('the dialogs to close', async () => (await d.findAll('[data-testid="restore-modal"], [data-testid="confirm-restore"]')).length === 0);
      assert(Number(psql(`SELECT count(*) FROM "User"`)) >= 3, 'the live database is untouched');

      // Back to the local workspace for the remaining tests.
      await switchTo('Local workspace');
    });

    await test('PostgreSQL: Health shows connections by state and the pool, block I/O, dead tuples, unused / duplicate / invalid indexes, foreign keys without an index, and WAL archiving', async () => {
      const refresh = async () => {
        await d.click('[data-testid="health-refresh"]');
        await sleep(200);
        await d.until('the report', async () => !(await d.exec(`return document.querySelector('[data-testid="health-refresh"]').disabled`)), 20000);
      };
      const view = async (testid, name) => {
        await d.exec(`document.querySelector('[data-testid="${testid}"]').scrollIntoView()`);
        await sleep(300);
        await shot(name);
      };
      // Long lists show 10 rows until "Show all" is clicked.
      const showAll = async (key) => {
        const b = await d.findAll(`[data-testid="health-more-${key}"]`);
        if (b.length && /^Show all/.test(await d.text(`[data-testid="health-more-${key}"]`))) await d.click(`[data-testid="health-more-${key}"]`);
      };
      await switchTo('e2e-pg');
      try {
        // A table with dead tuples (autovacuum off for it), a foreign key without an index, two
        // identical unused indexes and an index left INVALID by a failed concurrent build.
        psql(`CREATE TABLE e2e_health_scratch (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off)`);
        psql(`INSERT INTO e2e_health_scratch SELECT g, 'row ' || g FROM generate_series(1, 15000) g`);
        psql(`DELETE FROM e2e_health_scratch WHERE id <= 12000`);
        psql(`CREATE TABLE e2e_health_child (id int PRIMARY KEY, parent_id int REFERENCES e2e_health_scratch (id), code int)`);
        psql(`INSERT INTO e2e_health_child VALUES (1, NULL, 7), (2, NULL, 7)`);
        psql(`CREATE INDEX e2e_unused ON "Task" ("title")`);
        psql(`CREATE INDEX e2e_unused_twin ON "Task" ("title")`);
        let failed = false;
        try { psql(`CREATE UNIQUE INDEX CONCURRENTLY e2e_invalid ON e2e_health_child (code)`); } catch { failed = true; }
        assert(failed && psql(`SELECT NOT indisvalid FROM pg_index WHERE indexrelid = 'e2e_invalid'::regclass`) === 't', 'an INVALID index was left behind');
        const archiveMode = psql('SHOW archive_mode');
        if (archiveMode !== 'off') {
          psql('SELECT pg_switch_wal()');
          await d.until('a WAL file archived', async () => Number(psql('SELECT archived_count FROM pg_stat_archiver')) > 0, 30000);
        }

        await nav('health');
        await d.until('the PostgreSQL health report', async () => (await d.findAll('[data-testid="health-tables"]')).length > 0, 20000);
        const deadOnServer = () => Number(psql(`SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'e2e_health_scratch'`));
        await d.until('the scratch table with its dead tuples', async () => {
          await refresh();
          await showAll('unused');
          await showAll('fk');
          return (await d.findAll('[data-testid="health-dead-row"][data-table="public.e2e_health_scratch"]')).length > 0
            && (await d.findAll('[data-testid="health-unused-row"][data-index="e2e_unused"]')).length > 0;
        }, 30000);

        // Connections by state and the pool.
        const states = await d.exec(`return [...document.querySelectorAll('[data-testid="health-conn-state"]')].map((r) => [r.dataset.state, Number(r.dataset.count)])`);
        const total = Number((await d.text('[data-testid="health-conn-total"]')).replace(/,/g, ''));
        assert(states.some(([s, n]) => s === 'active' && n >= 1), `an active connection (the report itself): ${JSON.stringify(states)}`);
        assert(states.reduce((n, [, c]) => n + c, 0) === total && total >= 1, `states add up to the total ${total}: ${JSON.stringify(states)}`);
        const maxConn = psql('SHOW max_connections');
        assert((await d.text('[data-testid="health-connections"]')).includes(`max_connections ${Number(maxConn).toLocaleString('en-US')}`), `max_connections ${maxConn} shown`);
        assert(/\d+ in use · \d+ idle · \d+ open of max \d+/.test(await d.text('[data-testid="health-pool"]')), `pool: ${await d.text('[data-testid="health-pool"]')}`);
        await view('health-connections', '17-health-connections');

        // Block I/O: the numbers of pg_stat_database (which only grow).
        const hit = Number(await d.exec(`return document.querySelector('[data-testid="health-io-hit"]').dataset.value`));
        const read = Number(await d.exec(`return document.querySelector('[data-testid="health-io-read"]').dataset.value`));
        const [srvHit, srvRead] = psql(`SELECT blks_hit || ' ' || blks_read FROM pg_stat_database WHERE datname = current_database()`).split(' ').map(Number);
        assert(hit > 0 && hit <= srvHit && read <= srvRead, `blocks hit ${hit} / read ${read} vs server ${srvHit} / ${srvRead}`);
        assert((await d.text('[data-testid="health-io-hit"]')) === hit.toLocaleString('en-US'), 'blocks hit printed');
        assert(/Database hit ratio\s*\d+\.\d %/.test(await d.text('[data-testid="health-io"]')), 'hit ratio shown');
        await view('health-io', '18-health-io');

        // Tables: the dead tuples of the scratch table with the crate's suggestion.
        const deadRow = '[data-testid="health-dead-row"][data-table="public.e2e_health_scratch"]';
        const shownDead = Number(await d.exec(`return document.querySelector('${deadRow}').dataset.dead`));
        assert(shownDead >= 10000 && shownDead <= 12000, `dead tuples shown ${shownDead} (12,000 rows deleted; on the server now ${deadOnServer()})`);
        const deadText = await d.text(deadRow);
        assert(/CRITICAL|WARNING/i.test(deadText) && deadText.includes('VACUUM (ANALYZE) "public"."e2e_health_scratch"'), `dead-tuple suggestion: ${deadText}`);
        assert(/never/.test(deadText), `never vacuumed: ${deadText}`);
        await view('health-tables', '19-health-tables');

        // Indexes: unused (by name), the identical pair, the invalid one, the FK without an index.
        const unused = await d.text('[data-testid="health-unused-row"][data-index="e2e_unused"]');
        assert(/public\.e2e_unused/.test(unused) && /Task/.test(unused), `unused index row: ${unused}`);
        const dups = await d.exec(`return [...document.querySelectorAll('[data-testid="health-duplicate-row"]')].map((r) => r.innerText)`);
        assert(dups.some((t) => /e2e_unused, e2e_unused_twin/.test(t) && /keep one/.test(t)), `duplicate indexes: ${JSON.stringify(dups)}`);
        const invalid = await d.text('[data-testid="health-invalid-row"][data-index="e2e_invalid"]');
        assert(/drop and re-create it/.test(invalid) && /CREATE UNIQUE INDEX e2e_invalid/.test(invalid), `invalid index row: ${invalid}`);
        const fk = await d.text('[data-testid="health-fk-row"][data-constraint="e2e_health_child_parent_id_fkey"]');
        assert(/parent_id/.test(fk) && /e2e_health_scratch/.test(fk), `FK without an index: ${fk}`);
        await view('health-indexes', '20-health-indexes');
        await d.exec(`document.querySelector('[data-testid="health-duplicate-row"]').scrollIntoView({ block: 'center' })`);
        await sleep(300);
        await shot('20-health-indexes-duplicate-invalid-fk');

        // Replication and WAL archiving.
        const rep = await d.text('[data-testid="health-replication"]');
        assert(/Not a standby, no replicas/.test(rep), `replication role: ${rep.slice(0, 200)}`);
        if (archiveMode === 'off') {
          assert(/archiving off/i.test(await d.text('[data-testid="health-archiving-state"]')), 'archiving off stated');
        } else {
          await d.until('the last archived WAL after refresh', async () => {
            const last = psql('SELECT last_archived_wal FROM pg_stat_archiver');
            const shown = (await d.findAll('[data-testid="health-last-archived"]')).length ? await d.text('[data-testid="health-last-archived"]') : '';
            if (shown === last) return true;
            await refresh();
            return false;
          }, 30000);
          assert(/^archiving (on|always)$/i.test(await d.text('[data-testid="health-archiving-state"]')), `archiving state: ${await d.text('[data-testid="health-archiving-state"]')}`);
          assert(Number((await d.text('[data-testid="health-archived-count"]')).replace(/,/g, '')) >= 1, 'archived count');
        }
        await view('health-replication', '21-health-replication');

        // Sections fold away and come back.
        await d.click('[data-testid="health-indexes-toggle"]');
        await d.until('the indexes folded', async () => (await d.findAll('[data-testid="health-unused-row"]')).length === 0);
        await d.click('[data-testid="health-indexes-toggle"]');
        await d.wait('[data-testid="health-unused-row"][data-index="e2e_unused"]');
      } finally {
        psql('DROP TABLE IF EXISTS e2e_health_child, e2e_health_scratch');
        psql('DROP INDEX IF EXISTS e2e_unused, e2e_unused_twin');
        await switchTo('Local workspace');
      }
    });

    await test('sync: init from the window, an offline edit conflicts with a server edit, keep mine wins on the server', async () => {
      const u = new URL(process.env.E2E_PG_URL);
      // The URL the app builds for profile e2e-pg (no password): the cache's profile key.
      const profileUrl = `postgres://${u.username}@${u.hostname}:${u.port}${u.pathname}?sslmode=disable`;
      await switchTo('e2e-pg');
      try {
        await nav('sync');
        await d.wait('[data-testid="sync-init"]', 15000);
        await d.click('[data-org="test-org"]');
        await shot('15-sync-init');
        await d.click('[data-testid="sync-init-run"]');
        const t = await toastText('success');
        const rows = Number(/Offline cache ready: ([\d,]+) rows/.exec(t)?.[1]?.replace(/,/g, ''));
        assert(rows > 0, `first pull toast: ${t}`);
        await d.until('the sync state', async () => /in sync/.test(await d.text('[data-testid="sync-state"]')), 15000);
        assert((await d.text('[data-testid="sync-pending"]')) === '0', 'nothing pending');
        const phases = await d.text('[data-testid="sync-phases"]');
        assert(/\d+ \/ \d+/.test(phases), `progress events of the first pull reached the window: ${phases}`);
        assert(existsSync(join(dataDir, 'cache')), 'the cache is under the data dir');
        await dismissToasts();

        const [taskId, title] = psql(`SELECT t."id", t."title" FROM "Task" t JOIN "Project" p ON p."id" = t."project_id" JOIN "Organization" o ON o."id" = p."organization_id" WHERE o."slug" = 'test-org' AND t."deleted_at" IS NULL ORDER BY t."id" LIMIT 1`).split('|');
        assert(/^[0-9a-f-]{36}$/.test(taskId), `a test-org task: ${taskId} ${title}`);
        psql(`UPDATE "Task" SET "title" = 'server-${stamp}', "updated_at" = now() WHERE "id" = '${taskId}'`);
        const out = execFileSync(process.env.NCY_ADMIN_BIN, ['--database-url', profileUrl, '--offline', 'tasks', 'update', taskId, '--title', `mine-${stamp}`], { encoding: 'utf8', env: process.env });
        assert(/saved offline/.test(out), `offline edit: ${out}`);

        await nav('dashboard');
        await nav('sync');
        await d.until('the offline edit waiting', async () => (await d.text('[data-testid="sync-pending"]')) === '1');
        await d.click('[data-testid="sync-now"]');
        const info = await toastText('info');
        assert(/1 conflict\(s\) to resolve/.test(info), `sync toast: ${info}`);
        const sel = `[data-conflict][data-row="${taskId}"][data-field="title"]`;
        await d.wait(sel);
        const c = await d.text(sel);
        assert(c.includes(`mine-${stamp}`) && c.includes(`server-${stamp}`) && c.includes(title), `three values side by side: ${c}`);
        assert((await d.text('[data-testid="sync-conflicts"]')) === '1', 'one open conflict');
        assert(psql(`SELECT "title" FROM "Task" WHERE "id" = '${taskId}'`) === `server-${stamp}`, 'the conflict did not overwrite the server');
        await dismissToasts();
        await shot('16-sync-conflict');
        await d.click(`${sel} [data-testid="sync-keep-mine"]`);
        assert(/Conflict resolved/.test(await toastText('success')), 'resolved toast');
        await d.until('the resolution queued', async () => (await d.text('[data-testid="sync-pending"]')) === '1' && (await d.text('[data-testid="sync-conflicts"]')) === '0');
        await dismissToasts();
        await d.click('[data-testid="sync-now"]');
        assert(/Synced: 1 edit\(s\) pushed/.test(await toastText('success')), 'pushed');
        await d.until('the server row to hold my value', async () => psql(`SELECT "title" FROM "Task" WHERE "id" = '${taskId}'`) === `mine-${stamp}`);
        await d.until('in sync again', async () => /in sync/.test(await d.text('[data-testid="sync-state"]')) && (await d.text('[data-testid="sync-pending"]')) === '0');
        assert(Number(psql(`SELECT count(*) FROM "AuditLog" WHERE "target_id" = '${taskId}' AND "action" LIKE 'TASK%'`)) >= 1, 'the applied edit is audited');
        await dismissToasts();

        // A second conflict, on the priority, resolved with a value typed in the window.
        const base = psql(`SELECT "priority" FROM "Task" WHERE "id" = '${taskId}'`);
        const [theirs, mine, typedValue] = ['LOW', 'MEDIUM', 'HIGH', 'URGENT'].filter((p) => p !== base);
        psql(`UPDATE "Task" SET "priority" = '${theirs}', "updated_at" = now() WHERE "id" = '${taskId}'`);
        execFileSync(process.env.NCY_ADMIN_BIN, ['--database-url', profileUrl, '--offline', 'tasks', 'update', taskId, '--priority', mine], { encoding: 'utf8', env: process.env });
        await nav('dashboard');
        await nav('sync');
        await d.click('[data-testid="sync-now"]');
        const psel = `[data-conflict][data-row="${taskId}"][data-field="priority"]`;
        await d.wait(psel);
        await dismissToasts();
        await d.type(`${psel} [data-testid="sync-value"]`, typedValue.toLowerCase());
        await d.click(`${psel} [data-testid="sync-apply-value"]`);
        assert(/Conflict resolved/.test(await toastText('success')), 'resolved with a value');
        await dismissToasts();
        await d.click('[data-testid="sync-now"]');
        await d.until('the typed value on the server', async () => psql(`SELECT "priority" FROM "Task" WHERE "id" = '${taskId}'`) === typedValue);
        await d.until('no open conflict', async () => (await d.text('[data-testid="sync-conflicts"]')) === '0');
        await dismissToasts();
      } finally {
        // Back to the local workspace for the remaining tests.
        await dismissToasts();
        await switchTo('Local workspace');
      }
    });

    await test('offline: the window works on the profile\'s cache, a task edit waits in the outbox and Sync now applies it once', async () => {
      const title = `offline-${stamp}`;
      try {
        await nav('settings');
        await d.until('the e2e-pg row', async () => /e2e-pg/.test(await d.text('[data-testid="connections"] table')));
        await d.exec(`[...document.querySelectorAll('[data-testid="connections"] tr')].find((r) => r.textContent.includes('e2e-pg')).querySelector('[data-testid="profile-offline"]').click()`);
        await d.wait('main[data-screen="tasks"]');
        assert(/Offline · e2e-pg \(offline cache\)/.test(await d.text('[data-testid="shell"]')), 'the sidebar says offline');
        await dismissToasts();
        await d.wait('[data-testid="tasks-table"] [data-row="0"]');
        await d.click('[data-testid="tasks-table"] [data-row="0"]');
        await d.wait('[data-testid="task-drawer"]');
        await d.clear('[data-testid="task-title"]');
        await d.type('[data-testid="task-title"]', title);
        await d.click('[data-testid="task-save"]');
        assert(/saved offline: queued for the next Sync now/i.test(await toastText('success')), 'saved offline');
        await d.keys('Escape');
        await dismissToasts();
        assert(psql(`SELECT count(*) FROM "Task" WHERE "title" = '${title}'`) === '0', 'nothing reached the server yet');
        await nav('backups');
        assert((await d.findAll('[data-testid="backup-now"]')).length === 0, 'no changing action offline but task edits');
        await shot('23-offline-backups');
        // Every reading screen works on the cache without an error.
        for (const screen of ['dashboard', 'users', 'orgs', 'tasks', 'audit', 'logs', 'gdpr', 'health', 'sync']) {
          await nav(screen);
          await sleep(400);
          const errs = await d.findAll('[data-testid="toast-error"]');
          assert(errs.length === 0, `no error offline on ${screen}: ${errs.length ? await d.text('[data-testid="toast-error"]') : ''}`);
        }
        assert(/Working offline/.test(await d.text('[data-testid="sync"]')), 'the Sync screen says how to sync');
        // Platform settings are read from the cache and cannot be changed there.
        await nav('settings');
        await d.until('the settings read from the cache', async () => (await d.findAll('[data-testid="platform-settings"] [data-testid="setting-value"]')).length >= 3);
        assert((await d.findAll('[data-testid="setting-input"], [data-testid="setting-save"]')).length === 0, 'no setting edits offline');
        assert(/Working offline: they are read-only here/.test(await d.text('[data-testid="settings"]')), 'says why');
        // Back online: Sync now pushes the queued edit, once.
        await switchTo('e2e-pg');
        await nav('sync');
        // The outbox shows the waiting edit (base → mine); park it, then put it back in line.
        const state = () => d.text('[data-testid="sync-outbox"] [data-testid="outbox-state"]');
        await d.until('the edit in the outbox', async () => (await d.text('[data-testid="sync-outbox"]')).includes(`→ ${title}`));
        assert((await state()) === 'pending', 'a fresh edit is pending');
        await d.click('[data-testid="sync-outbox"] [data-testid="outbox-park"]');
        assert(/parked/.test(await toastText('success')), 'parked from the window');
        await d.until('the parked state', async () => (await state()) === 'parked');
        await dismissToasts();
        await d.click('[data-testid="sync-outbox"] [data-testid="outbox-retry"]');
        assert(/back in line/.test(await toastText('success')), 'retried from the window');
        await d.until('the pending state', async () => (await state()) === 'pending');
        await dismissToasts();
        await shot('23b-sync-outbox');
        await d.click('[data-testid="sync-now"]');
        assert(/Synced: 1 edit\(s\) pushed/.test(await toastText('success')), 'the offline edit is pushed');
        await d.wait('[data-testid="outbox-empty"]');
        await d.until('the server row', async () => psql(`SELECT count(*) FROM "Task" WHERE "title" = '${title}'`) === '1');
        await dismissToasts();
        await d.click('[data-testid="sync-now"]');
        assert(/Synced: 0 edit\(s\) pushed/.test(await toastText('success')), 'nothing pushed twice');
      } finally {
        await dismissToasts();
        await switchTo('Local workspace');
      }
    });

    await test('step-up: a delete long after the sign-in asks for the password again; a wrong one is refused, the right one lets it through, audited', async () => {
      const email = `stepup-${stamp}@example.com`;
      const deleted = () => psql(`SELECT count(*) FROM "User" WHERE "email" = '${email}' AND "deleted_at" IS NOT NULL`);
      try {
        await switchTo('e2e-pg');
        await createUser(email, 'EMPLOYEE');
        // Eleven minutes pass: the sign-in is made older on the server.
        psql(`UPDATE "Session" SET "authenticated_at" = (now() AT TIME ZONE 'UTC') - interval '11 minutes' WHERE "user_id" = (SELECT "id" FROM "User" WHERE "email" = 'admin@ncy-8.com')`);
        await d.click(`[data-email="${email}"]`);
        await d.click('[data-testid="user-delete"]');
        await d.wait('[data-testid="confirm-delete"]');
        await d.type('[data-testid="confirm-input"]', email);
        await d.click('[data-testid="confirm-delete-submit"]');
        await d.wait('[data-testid="step-up"]');
        await d.type('[data-testid="step-up-password"]', 'not-the-password');
        await d.click('[data-testid="step-up-confirm"]');
        await d.until('the refusal', async () => /wrong email or password/.test(await d.text('[data-testid="step-up-error"]')));
        assert(deleted() === '0', 'nothing deleted before the password');
        await d.clear('[data-testid="step-up-password"]');
        await d.type('[data-testid="step-up-password"]', 'admin123');
        await shot('23c-step-up');
        await d.click('[data-testid="step-up-confirm"]');
        await d.wait('[data-testid="user-restore"]');
        assert(deleted() === '1', 'deleted once the password was given');
        assert(psql(`SELECT count(*) FROM "AuditLog" WHERE "action" = 'AUTH_STEP_UP'`) !== '0', 'the step-up is audited');
        await d.keys('Escape');
      } finally {
        await dismissToasts();
        await switchTo('Local workspace');
      }
    });
  }

  await test('every main screen opens (screenshots)', async () => {
    const screens = ['dashboard', 'users', 'orgs', 'tasks', 'audit', 'logs', 'backups', 'gdpr', 'health', 'sync', 'approvals', 'settings'];
    for (const [i, s] of screens.entries()) {
      await nav(s);
      await d.wait(`[data-testid="${s}"]`);
      await sleep(250);
      await shot(`screen-${String(i + 1).padStart(2, '0')}-${s}`);
    }
    await nav('orgs');
    await d.wait('[data-testid="orgs-table"] [data-row="0"]');
    await d.click('[data-testid="orgs-table"] [data-row="0"]');
    await d.wait('[data-testid="org-drawer"]');
    await shot('09-org-drawer');
    await d.keys('Escape');
  });

  await test('the last screen and login survive a reload of the window', async () => {
    await nav('audit');
    await d.exec('location.reload()');
    await d.wait('[data-testid="shell"]', 15000);
    await d.wait('main[data-screen="audit"]');
  });

  await test('an employee sees only what the role grants: no admin actions, a readable refusal', async () => {
    await logout();
    await login('employee@test-org.com', 'employee123');
    const locked = await d.exec(`return [...document.querySelectorAll('[data-nav][data-locked]')].map((b) => b.dataset.nav).sort()`);
    assert(JSON.stringify(locked) === JSON.stringify(['audit', 'backups', 'gdpr', 'health', 'logs', 'operators', 'orgs', 'users']), `locked screens: ${locked}`);
    await nav('users');
    const refusal = await d.until('the refusal', async () => {
      const t = await d.text('[data-testid="users"]');
      return /users\.read/.test(t) ? t : null;
    });
    assert(!/Error \{|Forbidden \{/.test(refusal), `readable refusal: ${refusal}`);
    await shot('22-employee-users-refused');
    await nav('orgs');
    assert((await d.findAll('[data-testid="org-new"]')).length === 0, 'no New organization for an employee');
    await nav('gdpr');
    assert((await d.findAll('[data-testid="gdpr-new"]')).length === 0, 'no GDPR intake for an employee');
    await nav('backups');
    assert((await d.findAll('[data-testid="backup-now"]')).length === 0, 'no Back up now for an employee');
    await nav('tasks');
    await d.until('the own tasks', async () => (await d.findAll('[data-testid="tasks-table"] [data-row]')).length > 0);
    // A reviewer changes the status of its own task, and nothing else.
    await d.click('[data-testid="tasks-table"] [data-row="0"] [data-title]');
    await d.wait('[data-testid="task-drawer"]');
    await d.wait('[data-testid="task-review-only"]');
    assert(await d.exec(`return document.querySelector('[data-testid="task-title"]').disabled && document.querySelector('[data-testid="task-priority"]').disabled`), 'title and priority are read-only for a reviewer');
    const cur = await d.exec(`return document.querySelector('[data-testid="task-status"]').value`);
    const next = cur === 'REVIEW' ? 'IN_PROGRESS' : 'REVIEW';
    await d.select('[data-testid="task-status"]', next);
    await d.click('[data-testid="task-save"]');
    assert(/Task saved/.test(await toastText('success')), 'the reviewer saves a status change');
    await d.until('the table row to show the new status', async () => (await d.text('[data-testid="tasks-table"] [data-row="0"]')).includes(next));
    await d.keys('Escape');
    await d.until('the drawer to close', async () => (await d.findAll('[data-testid="task-drawer"]')).length === 0);
    await logout();
  });

  await test('support staff work the GDPR queue: users read-only in the drawer, consents and requests handled, no audit log', async () => {
    const supportEmail = `support-${stamp}@ncy-8.com`;
    // The admin creates the account and grants it the SUPPORT role from the user's drawer.
    await login();
    const pw = await createUser(supportEmail, 'EMPLOYEE');
    await searchUsers(`support-${stamp}`, supportEmail);
    await d.click(`[data-email="${supportEmail}"]`);
    await d.wait('[data-testid="user-drawer"]');
    await d.select('[data-testid="user-grant-role"]', 'SUPPORT');
    await d.click('[data-testid="user-grant"]');
    assert(/Granted SUPPORT/.test(await toastText('success')), 'role granted');
    await d.until('the SUPPORT badge', async () => (await d.findAll('[data-testid="user-roles"] [data-role="SUPPORT"]')).length === 1);
    await d.keys('Escape');
    await logout();

    // Support logs in with the temporary password.
    await login(supportEmail, pw);
    assert((await d.text('[data-testid="me-roles"]')) === 'EMPLOYEE · SUPPORT', 'the extra role is shown');
    // The sidebar marks what the role cannot open; the GDPR queue and users stay open.
    const locked = await d.exec(`return [...document.querySelectorAll('[data-nav][data-locked]')].map((b) => b.dataset.nav).sort()`);
    // (An EMPLOYEE account with the SUPPORT role: its own tasks and sync stay open too.)
    assert(JSON.stringify(locked) === JSON.stringify(['audit', 'backups', 'health', 'logs', 'operators', 'orgs']), `locked screens: ${locked}`);
    assert(/needs audit\.read/.test(await d.exec(`return document.querySelector('[data-nav="audit"]').title`)), 'the lock says what it needs');
    // The palette keeps the locked screens, marked, and leaves out actions support cannot take.
    await d.keys('Control', 'k');
    await d.wait('[data-testid="palette"]');
    const cmds = await d.exec(`return [...document.querySelectorAll('[data-testid="palette"] [data-cmd]')].map((b) => b.dataset.cmd + '=' + b.innerText)`);
    assert(!cmds.some((c) => c.startsWith('new-user=') || c.startsWith('export-audit=')), `no New user / Export audit: ${cmds}`);
    assert(cmds.some((c) => c.startsWith('go-audit=') && /not for your role/.test(c)), `audit marked: ${cmds}`);
    await d.keys('Escape');
    await d.until('the palette to close', async () => (await d.findAll('[data-testid="palette"]')).length === 0);
    // Users: readable, but the drawer offers no change the core would refuse.
    await nav('users');
    assert((await d.findAll('[data-testid="user-new"]')).length === 0, 'no New user for support');
    await searchUsers('employee@test-org', 'employee@test-org.com');
    await d.click('[data-email="employee@test-org.com"]');
    await d.wait('[data-testid="user-drawer"]');
    for (const id of ['user-save', 'user-delete', 'user-suspend', 'user-reset', 'user-grant', 'tab-history', 'apikey-form']) {
      assert((await d.findAll(`[data-testid="${id}"]`)).length === 0, `no ${id} for support`);
    }
    assert(await d.exec(`return document.querySelector('[data-testid="user-edit-email"]').disabled`), 'the profile is read-only');
    // Consents: support records them (gdpr.handle).
    await d.click('[data-testid="tab-consents"]');
    await d.type('[data-testid="consent-purpose"]', 'support.callback');
    await d.click('[data-testid="consent-grant"]');
    await d.until('the consent granted by support', async () => (await d.findAll('[data-testid="consents-current"] tr[data-purpose="support.callback"][data-granted="true"]')).length === 1);
    // Who recorded it comes with the consent history, not from the audit log support cannot read.
    await d.until('support named in the history', async () => (await d.text('[data-testid="consents-history"] tr[data-purpose="support.callback"]')).includes(supportEmail));
    await shot('24-support-user-drawer');
    await d.keys('Escape');
    await d.until('the drawer to close', async () => (await d.findAll('[data-testid="user-drawer"]')).length === 0);
    // GDPR: a request taken in, the identity checked, the request closed.
    await fileGdprRequest('employee@test-org', 'employee@test-org.com', 'ACCESS');
    await d.type('[data-testid="gdpr-verify-method"]', 'support: call-back to the number on file');
    await d.click('[data-testid="gdpr-verify"]');
    await d.until('the identity check', async () => /verified .*call-back/.test(await d.text('[data-testid="gdpr-identity"]')));
    await dismissToasts();
    await d.type('[data-testid="gdpr-reject-reason"]', 'e2e: support closes the request');
    await d.click('[data-testid="gdpr-reject"]');
    assert(/Request rejected/.test(await toastText('success')), 'support closes the request');
    await d.keys('Escape');
    await dismissToasts();
    // No audit log, no backups, no organization changes.
    await nav('audit');
    await d.until('the audit refusal', async () => /audit\.read/.test(await d.text('[data-testid="audit"]')));
    await nav('backups');
    assert((await d.findAll('[data-testid="backup-now"]')).length === 0, 'no Back up now for support');
    await nav('orgs');
    assert((await d.findAll('[data-testid="org-new"]')).length === 0, 'no New organization for support');
    await logout();
  });
} catch (e) {
  results.push({ name: 'session', ok: false });
  console.log(`FAIL session: ${e.message}`);
} finally {
  await d.quit();
}

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
if (Object.keys(figures).length) console.log(`figures: ${JSON.stringify(figures)}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
