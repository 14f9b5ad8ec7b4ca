// The demo's journey in a real browser: headless Debian Chromium driven by playwright-core.
//
//   node demo/e2e/browser.mjs <base-url> <artifacts-dir> [format]
//
// <base-url>       the running demo, e.g. http://127.0.0.1:3000 (no trailing slash needed)
// <artifacts-dir>  where screenshots (PNG) go; created if missing
// [format]         the SESSION_FORMAT the server runs (default `encrypted`); checked on /inside
//
// Environment:
//   CHROMIUM            the browser binary (default /usr/bin/chromium); nothing is downloaded
//   E2E_USER_DATA_DIR   the profile folder to use (default: a fresh temp folder); it must not
//                       exist yet or be empty, and is deleted at the end either way
//   E2E_DOCS_DIR        when set, also writes demo-home.png and demo-inside.png there
//                       (1280x800 viewport), the README's pictures
//   E2E_TIMEOUT_MS      the whole journey's deadline (default 45000)
//
// Prints one `ok - …` line per check and ends with `E2E PASS format=<format>`; on any failure
// prints `E2E FAIL: …`, saves `failure.png` when it can, and exits 1 (2 on the deadline).
// The browser is closed on every path: playwright-core kills it when this process exits.

import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pngStats } from './png.mjs';

const [baseArg, artifactsArg, formatArg = 'encrypted'] = process.argv.slice(2);
if (!baseArg || !artifactsArg) {
  console.error('usage: node browser.mjs <base-url> <artifacts-dir> [format]');
  process.exit(64);
}
const BASE = baseArg.replace(/\/+$/, '');
const ARTIFACTS = resolve(artifactsArg);
const FORMAT = formatArg;
const EXPRESS = FORMAT.startsWith('express');
const COOKIE = 'session';
const NAME = 'Ada Lovelace';
const WAIT_MS = 10_000; // every single wait
const DEADLINE_MS = Number(process.env.E2E_TIMEOUT_MS || 45_000);
const REMEMBER_SECS = 30 * 24 * 60 * 60;
const started = Date.now();

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let context = null;
let page = null;
let profile = null;
let ownProfile = false;

function log(line) {
  console.log(line);
}

function ok(what) {
  log(`ok - ${what} (${Date.now() - started} ms)`);
}

class CheckFailed extends Error {}

function check(condition, what, detail = '') {
  if (!condition) throw new CheckFailed(`${what}${detail ? `: ${detail}` : ''}`);
  ok(what);
}

/** Saves a screenshot after checking that it shows a rendered page, not a blank one. */
async function screenshot(name, options = {}) {
  const path = join(ARTIFACTS, name);
  const buffer = await page.screenshot({ path, timeout: WAIT_MS, ...options });
  const stats = pngStats(buffer);
  const detail = `${stats.width}x${stats.height}, ${buffer.length} bytes, ${stats.colours} colours, ` +
    `${(stats.inked * 100).toFixed(1)}% non-background`;
  // Text on a white page: anti-aliasing gives dozens of greys, and a few percent of ink.
  check(stats.colours >= 16 && stats.inked >= 0.01 && buffer.length >= 5_000,
    `screenshot ${name} is a rendered page (${detail})`, detail);
  return path;
}

/** The README's pictures (viewport only), when E2E_DOCS_DIR is set. */
async function docsScreenshot(name) {
  if (!process.env.E2E_DOCS_DIR) return;
  const dir = resolve(process.env.E2E_DOCS_DIR);
  mkdirSync(dir, { recursive: true });
  const buffer = await page.screenshot({ path: join(dir, name), timeout: WAIT_MS });
  ok(`docs: ${join(dir, name)} written (${buffer.length} bytes)`);
}

// ---- helpers over the page and the cookie jar ----

async function visit(path) {
  const response = await page.goto(BASE + path, { waitUntil: 'load', timeout: WAIT_MS });
  if (!response || response.status() !== 200) {
    throw new CheckFailed(`GET ${path} answered ${response ? response.status() : 'nothing'}`);
  }
  return response;
}

async function reload() {
  const response = await page.reload({ waitUntil: 'load', timeout: WAIT_MS });
  if (!response || response.status() !== 200) throw new CheckFailed('reload failed');
}

async function text(selector) {
  return (await page.locator(selector).textContent({ timeout: WAIT_MS })).trim();
}

async function count(selector) {
  return page.locator(selector).count();
}

async function sessionCookies() {
  const all = await context.cookies(BASE);
  return {
    main: all.find((c) => c.name === COOKIE),
    sig: all.find((c) => c.name === `${COOKIE}.sig`),
    all,
  };
}

function describe(cookie) {
  if (!cookie) return 'none';
  return `${cookie.name}: expires=${cookie.expires}, httpOnly=${cookie.httpOnly}, ` +
    `sameSite=${cookie.sameSite}, secure=${cookie.secure}, path=${cookie.path}, ${cookie.value.length} chars`;
}

/** Fills and submits the login form; resolves on the home page. */
async function login(name, remember) {
  await visit('/login');
  await page.locator('#login-form input[name="name"]').fill(name, { timeout: WAIT_MS });
  await page.locator('#login-form input[name="remember"]').setChecked(remember, { timeout: WAIT_MS });
  await Promise.all([
    page.waitForURL(`${BASE}/`, { timeout: WAIT_MS, waitUntil: 'load' }),
    page.locator('#login-form button[type="submit"]').click({ timeout: WAIT_MS }),
  ]);
}

/** Checks the cookie's lifetime: about 30 days ahead, or a browser-session cookie (-1). */
function checkLifetime(cookie, persistent, what) {
  check(cookie, `${what}: the ${COOKIE} cookie is in the jar`);
  if (persistent) {
    const ahead = cookie.expires - Date.now() / 1000;
    check(Math.abs(ahead - REMEMBER_SECS) < 300,
      `${what}: the cookie is persistent, expiring in ~30 days`,
      `expires in ${(ahead / 86400).toFixed(3)} days (${describe(cookie)})`);
  } else {
    check(cookie.expires === -1, `${what}: the cookie is a browser-session cookie (expires -1)`,
      describe(cookie));
  }
}

// ---- the journey ----

async function journey() {
  mkdirSync(ARTIFACTS, { recursive: true });
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (process.env.E2E_USER_DATA_DIR) {
    profile = resolve(process.env.E2E_USER_DATA_DIR);
    mkdirSync(profile, { recursive: true });
    if (readdirSync(profile).length) throw new Error(`${profile} is not empty: not a fresh profile`);
  } else {
    profile = mkdtempSync(join(tmpdir(), 'cookie-session-e2e-'));
  }
  ownProfile = true;

  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 20_000,
    viewport: { width: 1280, height: 800 },
    handleSIGINT: true,
    handleSIGTERM: true,
    handleSIGHUP: true,
  });
  // After playwright-core's own 'exit' handler (which kills the browser): drop the profile
  // even when the deadline ends the process.
  process.on('exit', () => {
    if (profile && ownProfile) rmSync(profile, { recursive: true, force: true });
  });
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(WAIT_MS);
  page = context.pages()[0] || (await context.newPage());
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  ok(`chromium started (${executablePath}, fresh profile ${profile})`);

  // 1. First visit: a new session, counter 1, anonymous.
  await visit('/');
  check((await text('#counter')) === '1', 'first visit: the counter shows 1');
  check((await count('#anonymous')) === 1 && (await count('#user')) === 0, 'first visit: anonymous');
  let { main, sig } = await sessionCookies();
  check(main, 'first visit: a session cookie is set', describe(main));
  if (EXPRESS) check(sig, 'express: the .sig cookie is set too', describe(sig));

  // 2. The counter survives reloads.
  await reload();
  await reload();
  check((await text('#counter')) === '3', 'two reloads: the counter shows 3');

  // 3. Log in with "remember me".
  await login(NAME, true);
  check((await text('#user')) === NAME, `logged in: the name "${NAME}" is shown`);
  check((await count('#anonymous')) === 0, 'logged in: not anonymous');
  const flash = await text('#flash');
  check(flash.includes(NAME) && /logged in/i.test(flash), 'logged in: the welcome flash is shown', flash);
  check((await text('#counter')) === '4', 'logged in: the counter carried over (4)');
  await screenshot('home.png');
  await docsScreenshot('demo-home.png');

  // HttpOnly: invisible to scripts, but in the jar with a 30-day expiry.
  const scriptCookies = await page.evaluate(() => document.cookie);
  check(!scriptCookies.split(/;\s*/).some((c) => c.startsWith(`${COOKIE}=`) || c.startsWith(`${COOKIE}.sig=`)),
    'HttpOnly: document.cookie does not show the session cookie', JSON.stringify(scriptCookies));
  ({ main, sig } = await sessionCookies());
  check(main && main.httpOnly, 'HttpOnly: the jar marks the cookie httpOnly', describe(main));
  checkLifetime(main, true, 'remember me');
  if (EXPRESS) {
    check(sig && sig.httpOnly, 'express: the .sig cookie is httpOnly', describe(sig));
    checkLifetime(sig, true, 'remember me (.sig)');
  }
  log(`# cookie: ${describe(main)}`);
  const loggedInValue = main.value;

  // The flash shows once.
  await reload();
  check((await count('#flash')) === 0, 'reload: the flash is gone');
  check((await text('#user')) === NAME, 'reload: still logged in');
  ({ main } = await sessionCookies());
  checkLifetime(main, true, 'reload (the session was written again)');

  // 4. "Inside my session".
  await visit('/inside');
  check((await text('#format')) === FORMAT, `inside: the format is ${FORMAT}`);
  const raw = await text('#raw-cookie');
  ({ main } = await sessionCookies());
  check(raw.startsWith(`${COOKIE}=`) && raw.includes(main.value),
    'inside: the raw cookie shown is the one in the jar');
  const decoded = JSON.parse(await text('#decoded'));
  check(decoded.user === NAME && decoded.remember === true && decoded.views === 5,
    'inside: the decoded JSON holds user, remember and views', JSON.stringify(decoded));
  check((await text('#key-index')).startsWith('key #0'), 'inside: opened with key #0');
  if (FORMAT === 'encrypted') {
    const nameParts = NAME.split(' ');
    check(!nameParts.some((part) => raw.includes(part)),
      'encrypted: the raw cookie does not contain the user name', raw);
    const bytes = await page.locator('[id^="raw-bytes-"]').allTextContents();
    check(bytes.length > 0 && !bytes.join('\n').includes('Lovelace'),
      'encrypted: its base64-decoded bytes do not show the name either');
  } else {
    // Signed and Express cookies are readable by design: the page says so.
    check((await text('#readable')).includes(NAME), `${FORMAT}: the readable payload shows the name`);
  }
  await screenshot('inside.png', { fullPage: true });
  await docsScreenshot('demo-inside.png');

  // 5. Log out: the remembered cookie is replaced by a fresh browser-session one.
  await visit('/');
  const [logoutResponse] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${BASE}/logout` && r.request().method() === 'POST',
      { timeout: WAIT_MS }),
    page.locator('#logout').click({ timeout: WAIT_MS }),
  ]);
  await page.locator('#flash', { hasText: 'logged out' }).waitFor({ timeout: WAIT_MS });
  check(logoutResponse.status() === 303, 'logout: POST /logout redirects (303)', String(logoutResponse.status()));
  const setCookies = await logoutResponse.headerValues('set-cookie');
  check(setCookies.some((c) => c.startsWith(`${COOKIE}=`)), 'logout: the response replaces the session cookie',
    JSON.stringify(setCookies));
  check((await text('#flash')).includes('logged out'), 'logout: the flash "logged out" is shown');
  check((await count('#user')) === 0 && (await count('#anonymous')) === 1, 'logout: the user is gone');
  check((await text('#counter')) === '1', 'logout: a fresh session (counter 1)');
  ({ main } = await sessionCookies());
  check(!main || main.value !== loggedInValue, 'logout: the logged-in cookie is no longer in the jar',
    describe(main));
  if (main) checkLifetime(main, false, 'logout (the fresh session)');
  await reload();
  check((await count('#flash')) === 0, 'logout, reload: the flash is gone');
  check((await count('#user')) === 0, 'logout, reload: still logged out');
  await visit('/inside');
  const afterLogout = JSON.parse(await text('#decoded'));
  check(!('user' in afterLogout) && !('remember' in afterLogout) && !('_flash' in afterLogout),
    'logout: the session holds no user, remember or flash', JSON.stringify(afterLogout));

  // 6. Log in without "remember me": a browser-session cookie.
  await login('Grace Hopper', false);
  check((await text('#user')) === 'Grace Hopper', 'login without remember me: the name is shown');
  ({ main, sig } = await sessionCookies());
  check(main.httpOnly, 'login without remember me: httpOnly');
  checkLifetime(main, false, 'login without remember me');
  if (EXPRESS) checkLifetime(sig, false, 'login without remember me (.sig)');

  check(consoleErrors.length === 0, 'no console errors on any page', consoleErrors.join(' | '));
}

async function closeBrowser() {
  if (context) {
    const closing = context.close().catch(() => {});
    context = null;
    // A hung close must not hang the test: process.exit lets playwright kill the browser.
    await Promise.race([closing, new Promise((r) => setTimeout(r, 5_000).unref())]);
  }
  if (profile && ownProfile) rmSync(profile, { recursive: true, force: true });
}

const watchdog = setTimeout(() => {
  log(`E2E FAIL: the journey took longer than ${DEADLINE_MS} ms`);
  // The 'exit' handler of playwright-core kills the browser's process group.
  process.exit(2);
}, DEADLINE_MS);
watchdog.unref();

try {
  await journey();
  await closeBrowser();
  log(`E2E PASS format=${FORMAT} in ${Date.now() - started} ms`);
  process.exit(0);
} catch (error) {
  log(`E2E FAIL: ${error instanceof CheckFailed ? error.message : error.stack || error}`);
  if (page) {
    try {
      await page.screenshot({ path: join(ARTIFACTS, 'failure.png'), timeout: 3_000 });
      log(`# failure screenshot: ${join(ARTIFACTS, 'failure.png')} (page ${page.url()})`);
    } catch {
      // the page may be gone with the browser
    }
  }
  await closeBrowser();
  process.exit(1);
}
