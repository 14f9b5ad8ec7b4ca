// Migrating a logged-in visitor from Express to the Rust demo, in a real browser: headless
// Debian Chromium driven by playwright-core.
//
//   node demo/e2e/migrate.mjs <express-url> <demo-url> <artifacts-dir> [express|express-session]
//
// <express-url>    the reference Express app: interop/express/server.js (cookie-session 2.1.1),
//                  or with `express-session`, interop/express-session/server.js (express-session
//                  1.19 on connect-redis)
// <demo-url>       the Rust demo, run with SESSION_FORMAT=encrypted, SESSION_MIGRATE_FROM = the
//                  last argument, SESSION_MIGRATE_KEYS = the Express app's keys or secrets (and
//                  SESSION_MIGRATE_STORE = its Redis, for express-session)
// <artifacts-dir>  where the screenshot goes; created if missing
// last argument    what the Express app runs: `express` (cookie-session, the default) or
//                  `express-session`
//
// Both listen on 127.0.0.1 (different ports): a browser sends a host's cookies to every port,
// so this is the cut-over of one site from Express to Rust. The journey:
//   1. log in on Express (POST /api/session {user}): the jar holds `session` + `session.sig`,
//      Express's base64 JSON (express-session: `connect.sid`, a signed id of a Redis record);
//   2. open the Rust demo: logged in as the same user, no login form; the jar now holds the
//      encrypted `session` (the name is not readable in it), and no `session.sig` (no
//      `connect.sid`);
//   3. reload, and "Inside my session": still logged in, format encrypted, the user inside.
//
// Environment: CHROMIUM (default /usr/bin/chromium), E2E_USER_DATA_DIR (a fresh profile
// folder), E2E_TIMEOUT_MS (default 45000). Prints `ok - …` per check, then
// `E2E PASS migrate` or `E2E FAIL: …` (exit 1; 2 on the deadline).

import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [expressArg, demoArg, artifactsArg, fromArg = 'express'] = process.argv.slice(2);
if (!expressArg || !demoArg || !artifactsArg || !['express', 'express-session'].includes(fromArg)) {
  console.error('usage: node migrate.mjs <express-url> <demo-url> <artifacts-dir> [express|express-session]');
  process.exit(64);
}
// express-session keeps the data in its store: the browser holds only a signed id.
const EXPRESS_SESSION = fromArg === 'express-session';
const EXPRESS = expressArg.replace(/\/+$/, '');
const DEMO = demoArg.replace(/\/+$/, '');
const ARTIFACTS = resolve(artifactsArg);
const NAME = 'Ada Lovelace';
const WAIT_MS = 10_000;
const DEADLINE_MS = Number(process.env.E2E_TIMEOUT_MS || 45_000);
const started = Date.now();

let context = null;
let page = null;
let profile = null;

class CheckFailed extends Error {}

function log(line) {
  console.log(line);
}

function check(condition, what, detail = '') {
  if (!condition) throw new CheckFailed(`${what}${detail ? `: ${detail}` : ''}`);
  log(`ok - ${what} (${Date.now() - started} ms)`);
}

async function visit(url) {
  const response = await page.goto(url, { waitUntil: 'load', timeout: WAIT_MS });
  if (!response || response.status() !== 200) {
    throw new CheckFailed(`GET ${url} answered ${response ? response.status() : 'nothing'}`);
  }
  return response;
}

async function text(selector) {
  return (await page.locator(selector).textContent({ timeout: WAIT_MS })).trim();
}

async function jar() {
  const all = await context.cookies(DEMO);
  return {
    main: all.find((c) => c.name === 'session'),
    sig: all.find((c) => c.name === 'session.sig'),
    sid: all.find((c) => c.name === 'connect.sid'),
  };
}

function base64Json(value) {
  try {
    return JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
  } catch {
    return null;
  }
}

async function journey() {
  mkdirSync(ARTIFACTS, { recursive: true });
  if (process.env.E2E_USER_DATA_DIR) {
    profile = resolve(process.env.E2E_USER_DATA_DIR);
    mkdirSync(profile, { recursive: true });
    if (readdirSync(profile).length) throw new Error(`${profile} is not empty: not a fresh profile`);
  } else {
    profile = mkdtempSync(join(tmpdir(), 'cookie-session-migrate-'));
  }
  process.on('exit', () => {
    if (profile) rmSync(profile, { recursive: true, force: true });
  });
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 20_000,
    handleSIGINT: true,
    handleSIGTERM: true,
    handleSIGHUP: true,
  });
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(WAIT_MS);
  page = context.pages()[0] || (await context.newPage());
  log(`ok - chromium started (${executablePath})`);

  // 1. Logged in on the Express app.
  await visit(`${EXPRESS}/health`);
  const login = await page.evaluate(async (name) => {
    const r = await fetch('/api/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: name, views: 7 }),
    });
    return { status: r.status, body: await r.json() };
  }, NAME);
  check(login.status === 200 && login.body.user === NAME, 'express: logged in', JSON.stringify(login));
  await visit(`${EXPRESS}/api/session`);
  const onExpress = JSON.parse(await page.locator('body').textContent());
  check(onExpress.user === NAME, 'express: the next request is logged in', JSON.stringify(onExpress));
  let { main, sig, sid } = await jar();
  let expressValue = null;
  if (EXPRESS_SESSION) {
    check(!main && sid, 'express-session: the jar holds connect.sid only');
    // cookie-signature's `s:<id>.<mac>`, percent-encoded by the cookie module.
    check(/^s%3A[A-Za-z0-9_-]+\.[A-Za-z0-9%]+$/.test(sid.value),
      'express-session: connect.sid is a signed id, no session data', sid.value);
    check(sid.httpOnly, 'express-session: connect.sid is httpOnly');
  } else {
    check(main && sig, 'express: the jar holds session and session.sig');
    check(base64Json(main.value)?.user === NAME, 'express: the session cookie is base64 JSON naming the user');
    expressValue = main.value;
  }

  // 2. The Rust demo: logged in at once, no login.
  await visit(`${DEMO}/`);
  check((await text('#user')) === NAME, `demo: logged in as "${NAME}" without logging in`);
  check((await text('#counter')) === '8', 'demo: the Express session data carried over (views 7 -> 8)');
  ({ main, sig, sid } = await jar());
  check(main && main.value !== expressValue, 'demo: the session cookie was re-issued');
  check(!main.value.includes('Lovelace') && base64Json(main.value) === null,
    'demo: the new cookie is encrypted (no readable JSON, no name)');
  check(main.httpOnly, 'demo: the new cookie is httpOnly');
  check(!sig, 'demo: session.sig was cleared');
  check(!sid, 'demo: connect.sid was cleared');
  await page.screenshot({ path: join(ARTIFACTS, 'migrated.png'), timeout: WAIT_MS });

  // 3. It stays: reload, and look inside.
  await page.reload({ waitUntil: 'load', timeout: WAIT_MS });
  check((await text('#user')) === NAME, 'demo, reload: still logged in');
  check((await text('#counter')) === '9', 'demo, reload: the counter goes on (9)');
  await visit(`${DEMO}/inside`);
  check((await text('#format')) === 'encrypted', 'demo: inside, the format is encrypted');
  const decoded = JSON.parse(await text('#decoded'));
  check(decoded.user === NAME && decoded.views === 9, 'demo: inside, the session holds the user',
    JSON.stringify(decoded));
  ({ sig, sid } = await jar());
  check(!sig && !sid, 'demo: no Express cookie came back');
}

async function closeBrowser() {
  if (context) {
    const closing = context.close().catch(() => {});
    context = null;
    await Promise.race([closing, new Promise((r) => setTimeout(r, 5_000).unref())]);
  }
  if (profile) rmSync(profile, { recursive: true, force: true });
}

const watchdog = setTimeout(() => {
  log(`E2E FAIL: the journey took longer than ${DEADLINE_MS} ms`);
  process.exit(2);
}, DEADLINE_MS);
watchdog.unref();

try {
  await journey();
  await closeBrowser();
  log(`E2E PASS migrate in ${Date.now() - started} ms`);
  process.exit(0);
} catch (error) {
  log(`E2E FAIL: ${error instanceof CheckFailed ? error.message : error.stack || error}`);
  if (page) {
    try {
      await page.screenshot({ path: join(ARTIFACTS, 'failure.png'), timeout: 3_000 });
    } catch {
      // the page may be gone with the browser
    }
  }
  await closeBrowser();
  process.exit(1);
}
