// A minimal W3C WebDriver client over Node's built-in fetch (no npm browser downloads):
// enough to drive the Tauri window through tauri-driver + WebKitWebDriver.

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export class Driver {
  constructor(base = 'http://127.0.0.1:4444') {
    this.base = base;
    this.id = null;
  }

  async req(method, path, body) {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      // A hung window must fail the run, not stall it.
      signal: AbortSignal.timeout(method === 'POST' && path === '/session' ? 120000 : 60000),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = { value: text }; }
    if (!res.ok) {
      const v = json.value ?? {};
      const err = new Error(`${method} ${path}: ${v.error ?? res.status} ${v.message ?? text}`.slice(0, 500));
      err.webdriver = v.error;
      throw err;
    }
    return json.value;
  }

  s(path) { return `/session/${this.id}${path}`; }

  async start(application) {
    const v = await this.req('POST', '/session', {
      capabilities: { alwaysMatch: { 'tauri:options': { application } } },
    });
    this.id = v.sessionId;
    return v;
  }

  async quit() {
    if (this.id) {
      try { await this.req('DELETE', `/session/${this.id}`); } catch { /* already gone */ }
      this.id = null;
    }
  }

  async find(css) {
    const v = await this.req('POST', this.s('/element'), { using: 'css selector', value: css });
    return v[ELEMENT];
  }

  async findAll(css) {
    const v = await this.req('POST', this.s('/elements'), { using: 'css selector', value: css });
    return v.map((e) => e[ELEMENT]);
  }

  /** Polls until `css` matches a displayed element. */
  async wait(css, timeout = 10000) {
    const end = Date.now() + timeout;
    let last;
    while (Date.now() < end) {
      try {
        const id = await this.find(css);
        // Rendered (has a box); WebKit's `displayed` atom misjudges ellipsis-clipped text.
        const shown = await this.exec(
          `const r = arguments[0].getBoundingClientRect(); return r.width > 0 && r.height > 0;`,
          { [ELEMENT]: id });
        if (shown) return id;
      } catch (e) { last = e; }
      await sleep(50);
    }
    throw new Error(`timed out after ${timeout} ms waiting for ${css}${last ? ` (${last.message})` : ''}`);
  }

  /** Polls until `fn()` returns a truthy value. */
  async until(what, fn, timeout = 10000) {
    const end = Date.now() + timeout;
    let last;
    while (Date.now() < end) {
      try { const v = await fn(); if (v) return v; } catch (e) { last = e; }
      await sleep(80);
    }
    throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? ` (${last.message})` : ''}`);
  }

  async click(css) { const id = await this.wait(css); await this.req('POST', this.s(`/element/${id}/click`), {}); }
  async clear(css) { const id = await this.wait(css); await this.req('POST', this.s(`/element/${id}/clear`), {}); }
  async type(css, text) { const id = await this.wait(css); await this.req('POST', this.s(`/element/${id}/value`), { text }); }
  /** The element's full text (innerText: WebDriver's getText drops ellipsis-clipped text). */
  async text(css) { const id = await this.wait(css); return this.exec('return arguments[0].innerText.trim();', { [ELEMENT]: id }); }
  async exec(script, ...args) { return this.req('POST', this.s('/execute/sync'), { script, args }); }
  async screenshot() { return Buffer.from(await this.req('GET', this.s('/screenshot')), 'base64'); }

  /** Sets a <select>'s value and fires `change` as a user choice would. */
  async select(css, value) {
    await this.wait(css);
    const ok = await this.exec(
      `const s = document.querySelector(arguments[0]); if (!s) return false;
       s.value = arguments[1]; s.dispatchEvent(new Event('change', { bubbles: true })); return s.value === arguments[1];`,
      css, value);
    if (!ok) throw new Error(`cannot select ${value} in ${css}`);
  }

  /** Presses a key chord with the W3C actions API (real key events). */
  async keys(...chord) {
    const map = { Control: '\uE009', Escape: '\uE00C', Enter: '\uE007', Shift: '\uE008' };
    const vals = chord.map((k) => map[k] ?? k);
    const actions = [...vals.map((v) => ({ type: 'keyDown', value: v })), ...vals.reverse().map((v) => ({ type: 'keyUp', value: v }))];
    await this.req('POST', this.s('/actions'), { actions: [{ type: 'key', id: 'kbd', actions }] });
    await this.req('DELETE', this.s('/actions'));
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
