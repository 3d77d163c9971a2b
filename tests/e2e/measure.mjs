// Measures (not a test): cold start to an interactive window, first users page and RSS of the
// app (ncy-desktop + its WebKit processes) after loading the Users screen, then after paging
// through more rows. Run with `scripts/e2e.sh --measure DATA_DIR` on a big workspace
// (`ncy-admin --local DATA_DIR/workspace.db seed synthetic --users 1000000 --orgs 100 --tasks 0`
// then `seed dev --force` for the admin login).

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { Driver, sleep } from './webdriver.mjs';

const d = new Driver(process.env.DRIVER_URL);
const bin = process.env.NCY_DESKTOP_BIN;

// RSS, PSS (shared pages divided among the processes that map them, so the sum over the
// app's processes counts WebKitGTK's libraries once) and the private part.
function rssKb(pid) {
  try {
    const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const f = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(t)?.[1] ?? 0);
    return { rss: f('Rss'), pss: f('Pss'), priv: f('Private_Clean') + f('Private_Dirty') };
  } catch { return { rss: 0, pss: 0, priv: 0 }; }
}
function children(pid) {
  try { return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
}
function appRss() {
  // Only the app this script started (other windows of the same binary name may be running).
  const pids = execFileSync('pgrep', ['-x', 'ncy-desktop'], { encoding: 'utf8' }).trim().split('\n').map(Number)
    .filter((p) => { try { return realpathSync(`/proc/${p}/exe`) === realpathSync(bin); } catch { return false; } });
  return treeRss(pids);
}
function treeRss(pids) {
  const out = {};
  const add = (name, pid) => { const r = rssKb(pid); const o = (out[name] ??= { rss: 0, pss: 0, priv: 0 }); o.rss += r.rss; o.pss += r.pss; o.priv += r.priv; };
  for (const p of pids) {
    add('app', p);
    const walk = (q) => { for (const c of children(q)) { add(readFileSync(`/proc/${c}/comm`, 'utf8').trim(), c); walk(c); } };
    walk(p);
  }
  const mb = {};
  let rss = 0, pss = 0, priv = 0;
  const show = (v) => `rss ${Math.round(v.rss / 1024)} pss ${Math.round(v.pss / 1024)} private ${Math.round(v.priv / 1024)}`;
  for (const [k, v] of Object.entries(out)) { mb[k] = show(v); rss += v.rss; pss += v.pss; priv += v.priv; }
  mb.total = show({ rss, pss, priv });
  return mb;
}

// The floor of the stack: the same Tauri + WebKitGTK window on an empty page (NCY_BLANK_BIN,
// src-tauri/examples/blank_window.rs), measured alone before the app starts.
let floor = null;
if (process.env.NCY_BLANK_BIN) {
  const blank = spawn(process.env.NCY_BLANK_BIN, [], { stdio: 'ignore' });
  await sleep(6000);
  floor = treeRss([blank.pid]);
  blank.kill();
  await new Promise((r) => blank.on('exit', r));
  await sleep(1000);
}

// The floor of a cold start: the blank window's page loaded, through the same driver.
// `toPage`: from launching the process to the web view starting the page (WebKit's processes,
// the window), read from the page's own clock (`performance.timeOrigin`).
let coldFloor = null;
let floorToPage = null;
if (process.env.NCY_BLANK_BIN) {
  const launched = Date.now();
  const tb = performance.now();
  await d.start(process.env.NCY_BLANK_BIN);
  await d.until('the blank page', async () => ((await d.exec('return document.readyState')) === 'complete' ? true : null), 60000);
  coldFloor = performance.now() - tb;
  floorToPage = (await d.exec('return performance.timeOrigin')) - launched;
  await d.quit();
}

const launched = Date.now();
const t0 = performance.now();
await d.start(bin);
await d.wait('[data-testid="login-form"]', 60000);
const cold = performance.now() - t0;
// The app's share: from the page's start to the login form (Login.svelte marks it).
const split = await d.exec(`const m = performance.getEntriesByName('ncy:login-form')[0];
  return { origin: performance.timeOrigin, form: m ? m.startTime : null };`);
const rssLogin = appRss();
await d.type('[data-testid="login-email"]', 'admin@ncy-8.com');
await d.type('[data-testid="login-password"]', 'admin123');
await d.click('[data-testid="login-submit"]');
await d.wait('[data-testid="shell"]', 30000);
// MEASURE_AFTER_DASHBOARD=1: open Users only once the Dashboard's figures are in (the page's
// own cost, without the Dashboard's queries still running beside it).
if (process.env.MEASURE_AFTER_DASHBOARD === '1') {
  await d.until('the dashboard figures', async () => /\d/.test(await d.text('[data-testid="kpi-users"]')) || null, 60000);
}
const t1 = performance.now();
// Timed in the page too, from the click to the frame after the first row is in the document
// (the driver's polling adds its own latency to the outside figure).
await d.exec(`window.__firstRow = null;
  const t = performance.now();
  const seen = () => document.querySelector('[data-testid="users-table"] [data-row="0"]');
  const mo = new MutationObserver(() => {
    if (seen()) { mo.disconnect(); requestAnimationFrame(() => { window.__firstRow = performance.now() - t; }); }
  });
  mo.observe(document.body, { childList: true, subtree: true });
  document.querySelector('[data-nav="users"]').click();`);
await d.wait('[data-testid="users-table"] [data-row="0"]', 60000);
const firstPage = performance.now() - t1;
const firstPageInPage = await d.until('the in-page first-row time', () => d.exec('return window.__firstRow'), 10000);
const settle = Number(process.env.MEASURE_SETTLE_MS ?? 1000);
await sleep(settle);
const rssUsers = appRss();
// Scroll the virtualized list to the end of what is loaded until `rows` rows were seen.
async function scrollTo(rows) {
  for (let i = 0; i < 2000; i++) {
    const n = await d.exec(`const b = document.querySelector('[data-testid="users-table"] .body'); b.scrollTop = b.scrollHeight; return document.querySelector('[data-testid="users-table"] .foot').textContent;`);
    if (Number(n.trim().split(' ')[0].replace(/,/g, '')) >= rows) return;
    await sleep(60);
  }
}
// Page through 10,000 rows (50 keyset pages of 200), then to 30,000.
const t2 = performance.now();
await scrollTo(10000);
const scroll = performance.now() - t2;
await sleep(settle);
const foot = await d.text('[data-testid="users-table"] .foot');
const rows = await d.exec(`return document.querySelectorAll('[data-testid="users-table"] [data-row]').length`);
const rssScrolled = appRss();
await scrollTo(Number(process.env.MEASURE_FAR_ROWS ?? 30000));
await sleep(settle);
const foot30k = await d.text('[data-testid="users-table"] .foot');
const rss30k = appRss();
// Back to the top: the first rows were dropped from memory and come back by their cursor.
const t3 = performance.now();
await d.exec(`document.querySelector('[data-testid="users-table"] .body').scrollTop = 0;`);
await d.wait('[data-testid="users-table"] [data-row="0"]', 30000);
const backToTop = performance.now() - t3;
const kpi = await (async () => { await d.click('[data-nav="dashboard"]'); return d.until('user count', async () => { const t = await d.text('[data-testid="kpi-users"]'); return /\d/.test(t) ? t : null; }, 60000); })();
await d.quit();
console.log(JSON.stringify({
  cold_start_to_login_form_ms: Math.round(cold),
  cold_start_blank_window_ms: coldFloor === null ? null : Math.round(coldFloor),
  launch_to_page_start_ms: Math.round(split.origin - launched),
  launch_to_page_start_blank_ms: floorToPage === null ? null : Math.round(floorToPage),
  page_start_to_login_form_ms: split.form === null ? null : Math.round(split.form),
  first_users_page_ms: Math.round(firstPage),
  first_users_page_in_page_ms: Math.round(firstPageInPage),
  rss_mb_blank_window: floor,
  rss_mb_at_login: rssLogin,
  rss_mb_users_screen: rssUsers,
  scroll_ms: Math.round(scroll), rows_loaded: foot, dom_rows: rows,
  rss_mb_after_scroll: rssScrolled,
  rows_loaded_2: foot30k,
  rss_mb_after_far_rows: rss30k,
  back_to_top_ms: Math.round(backToTop),
  dashboard_active_users: kpi,
}, null, 1));
