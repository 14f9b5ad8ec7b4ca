'use strict'

// Records how express-session 1.19 really behaves with connect-redis 10 and connect-pg-simple
// 10, into cookie-session/tests/data/express-session-vectors.json (schema at its top).
//
// Run from the repository root, with throwaway Redis and PostgreSQL on loopback (stopped again
// when the shell exits), after `npm ci` in interop/express-session:
//   bash -c 'source scripts/services.sh && trap services_stop EXIT && services_start &&
//            node interop/express-session/record.js' It empties the Redis database and the
// `session` table of REDIS_URL / DATABASE_URL: never point it at real data.
//
// Each scenario starts server.js with its options and runs steps one after the other: an HTTP
// request with a cookie jar (the response's status, Set-Cookie headers and body are recorded),
// or a direct write to the store (a record another program wrote). After every step the whole
// store is snapshotted: Redis keys with value and TTL, or the rows of the `session` table.
// Times in the file are real: `at_ms` says when a step ran, so expiries can be related to it.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { createClient } = require('redis')
const { Client } = require('pg')

const OUT = path.resolve(__dirname, '../../cookie-session/tests/data/express-session-vectors.json')
const SECRETS = ['secret-new', 'secret-old']
const NAME = 'connect.sid'

// The very copies express-session uses (it pins cookie-signature ~1.0.7 and cookie ~0.7.2,
// which need not be the top-level ones).
const sessionDir = path.dirname(require.resolve('express-session'))
const signature = require(require.resolve('cookie-signature', { paths: [sessionDir] }))
const cookie = require(require.resolve('cookie', { paths: [sessionDir] }))

/** The version of the copy of `pkg` that code in `from` loads (a nested one first, as Node does). */
function version (pkg, from) {
  const candidates = [from, __dirname].filter(Boolean).map((dir) => path.join(dir, 'node_modules', pkg, 'package.json'))
  const file = candidates.find((f) => fs.existsSync(f))
  return JSON.parse(fs.readFileSync(file, 'utf8')).version
}

// ---- the Express app ----------------------------------------------------------------------

function startServer (env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'server.js')], {
      env: { ...process.env, PORT: '0', SESSION_SECRETS: SECRETS.join(','), NODE_ENV: 'production', ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    let err = ''
    child.stderr.on('data', (d) => { err += d })
    child.stdout.on('data', (d) => {
      out += d
      const m = /listening (\d+)/.exec(out)
      if (m) resolve({ child, port: Number(m[1]), stderr: () => err })
    })
    child.on('exit', (code) => reject(new Error(`server.js exited with ${code}: ${err}`)))
  })
}

function stopServer (server) {
  return new Promise((resolve) => {
    server.child.removeAllListeners('exit')
    server.child.on('exit', () => resolve())
    server.child.kill('SIGTERM')
  })
}

function request (port, method, pathname, cookieHeader, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const headers = {}
    if (cookieHeader !== undefined) headers.cookie = cookieHeader
    if (payload) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = payload.length
    }
    const req = http.request({ host: '127.0.0.1', port, method, path: pathname, headers }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed = text
        try { parsed = text === '' ? null : JSON.parse(text) } catch {}
        resolve({ status: res.statusCode, set_cookie: res.headers['set-cookie'] || [], body: parsed })
      })
    })
    // A request express-session never answers is a finding, not a reason to hang.
    req.setTimeout(5000, () => {
      req.destroy()
      resolve({ status: null, set_cookie: [], body: null, no_response_within_ms: 5000 })
    })
    req.on('error', (err) => { if (!req.destroyed) reject(err) })
    if (payload) req.write(payload)
    req.end()
  })
}

// ---- the stores ---------------------------------------------------------------------------

async function redisSnapshot (redis) {
  const keys = (await redis.keys('*')).sort()
  const out = []
  for (const key of keys) {
    out.push({ key, value: await redis.get(key), ttl_s: await redis.ttl(key), pttl_ms: await redis.pTTL(key) })
  }
  return out
}

async function pgSnapshot (pg) {
  const exists = await pg.query("SELECT to_regclass('session') AS t")
  if (exists.rows[0].t === null) return []
  // `sess::text` is the column's exact text (type json keeps it verbatim); `expire` is a
  // timestamp without time zone, shown as PostgreSQL prints it and as Unix seconds read in the
  // server's time zone (what to_timestamp() wrote it in).
  const res = await pg.query(
    "SELECT sid, sess::text AS sess, expire::text AS expire, extract(epoch from expire::timestamptz)::float8 AS expire_unix_s FROM session ORDER BY sid"
  )
  return res.rows
}

// ---- helpers ------------------------------------------------------------------------------

/** The cookie value express-session would send for `sid`, signed with `secret`, URL-encoded. */
function signedCookieValue (sid, secret) {
  return encodeURIComponent('s:' + signature.sign(sid, secret))
}

/** The sid a `connect.sid` cookie value carries, without verifying it (`s:<sid>.<sig>`). */
function sidOf (value) {
  const decoded = decodeURIComponent(value)
  return decoded.slice(2, decoded.lastIndexOf('.'))
}

function cookieFromSetCookie (header) {
  const first = header.split(';')[0]
  const eq = first.indexOf('=')
  return { name: first.slice(0, eq), value: first.slice(eq + 1) }
}

// ---- scenarios ----------------------------------------------------------------------------

// Steps:
//   { req: [method, path, body?], cookie?: 'jar' (default) | 'none' | string | (ctx) => string, note }
//   { write: (ctx) => record, note }   a store record written by another program
//   { sleep_ms, note }                 let time pass (expiries, TTLs)
// The jar keeps the last connect.sid a response set; `ctx.sid` is its sid.

function badRecordSteps (store) {
  const cases = [
    ['not_json', 'this is not JSON'],
    ['json_array', '[1,2]'],
    ['json_null', 'null'],
    ['json_string', '"text"'],
    ['no_cookie_member', '{"views":1}'],
    ['cookie_number', '{"cookie":5,"views":1}'],
    ['cookie_string', '{"cookie":"x","views":1}'],
    ['cookie_null', '{"cookie":null,"views":1}'],
    ['cookie_array', '{"cookie":[],"views":1}'],
    ['cookie_empty_object', '{"cookie":{},"views":1}'],
    ['expires_garbage', '{"cookie":{"originalMaxAge":3600000,"expires":"garbage","httpOnly":true,"path":"/"},"views":1}'],
    ['expires_number', '{"cookie":{"originalMaxAge":3600000,"expires":1900000000000,"httpOnly":true,"path":"/"},"views":1}'],
    ['original_max_age_string', '{"cookie":{"originalMaxAge":"3600000","expires":null,"httpOnly":true,"path":"/"},"views":1}'],
    ['path_number', '{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":5},"views":1}'],
    ['proto_key', '{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"__proto__":{"admin":true},"views":1}'],
    ['reserved_keys', '{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"id":"other","save":1,"toString":2,"constructor":3,"views":1}'],
    ['cookie_not_first', '{"views":1,"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}}'],
    ['expired_cookie_expires', (ctx) => `{"cookie":{"originalMaxAge":60000,"expires":"${new Date(ctx.now - 3600000).toISOString()}","httpOnly":true,"path":"/"},"views":1}`]
  ]
  const steps = []
  for (const [label, value] of cases) {
    const sid = `bad-record-${label}`.padEnd(32, '_').slice(0, 32)
    steps.push({
      note: `another program writes a record: ${label}`,
      case: label,
      write: (ctx) => ({ sid, value: typeof value === 'function' ? value(ctx) : value })
    })
    if (store === 'pg' && (label === 'not_json')) {
      // The `json` column refuses text that is not JSON: nothing was written; skip the GET.
      continue
    }
    steps.push({ note: `GET with a valid cookie for that record (${label})`, case: label, cookie: () => `${NAME}=${signedCookieValue(sid, SECRETS[0])}`, req: ['GET', '/api/session'] })
    steps.push({ note: `POST {"touched":true} with the same cookie (${label}): what is written back`, case: label, cookie: () => `${NAME}=${signedCookieValue(sid, SECRETS[0])}`, req: ['POST', '/api/session', { touched: true }] })
  }
  return steps
}

function scenarios () {
  const lifecycle = [
    { note: 'no cookie, read only', cookie: 'none', req: ['GET', '/api/session'] },
    { note: 'no cookie, write: the session is created', cookie: 'none', req: ['POST', '/api/session', { views: 1, user: 'ann' }] },
    { note: 'read with the cookie', req: ['GET', '/api/session'] },
    { note: 'change the data', req: ['POST', '/api/session', { views: 2 }] },
    { note: 'the same sid signed with the second (old) secret', cookie: (ctx) => `${NAME}=${signedCookieValue(ctx.sid, SECRETS[1])}`, req: ['GET', '/api/session'] },
    { note: 'the same sid signed with a secret not in the list', cookie: (ctx) => `${NAME}=${signedCookieValue(ctx.sid, 'not-our-secret')}`, req: ['GET', '/api/session'] },
    { note: 'the bare sid, unsigned', cookie: (ctx) => `${NAME}=${ctx.sid}`, req: ['GET', '/api/session'] },
    { note: 'the signed value not URL-encoded', cookie: (ctx) => `${NAME}=s:${signature.sign(ctx.sid, SECRETS[0])}`, req: ['GET', '/api/session'] },
    { note: 'two connect.sid cookies: a forged one first, then the valid one', cookie: (ctx) => `${NAME}=${signedCookieValue(ctx.sid, 'forged')}; ${NAME}=${signedCookieValue(ctx.sid, SECRETS[0])}`, req: ['GET', '/api/session'] },
    { note: 'two connect.sid cookies: the valid one first', cookie: (ctx) => `${NAME}=${signedCookieValue(ctx.sid, SECRETS[0])}; ${NAME}=${signedCookieValue(ctx.sid, 'forged')}`, req: ['GET', '/api/session'] },
    { note: 'a changed cookie.maxAge (60 s) on a read', req: ['GET', '/api/session?max_age_ms=60000'] },
    { note: 'a changed cookie.maxAge (120 s) with a data change', req: ['POST', '/api/session?max_age_ms=120000', { views: 3 }] },
    { note: 'regenerate (login pattern): a new sid, the old record deleted', req: ['POST', '/api/session/regenerate', { user: 'bob' }] },
    { note: 'destroy', req: ['DELETE', '/api/session'] },
    { note: 'the destroyed session\'s cookie again', req: ['GET', '/api/session'] },
    { note: 'a sid never issued, correctly signed: read', cookie: () => `${NAME}=${signedCookieValue('never-issued-sid-000000000000000', SECRETS[0])}`, req: ['GET', '/api/session'] },
    { note: 'a sid never issued, correctly signed: write (is it adopted?)', cookie: () => `${NAME}=${signedCookieValue('never-issued-sid-000000000000000', SECRETS[0])}`, req: ['POST', '/api/session', { views: 1 }] }
  ]
  const withMaxAge = [
    { note: 'create', cookie: 'none', req: ['POST', '/api/session', { views: 1 }] },
    { note: 'let a second pass', sleep_ms: 1100 },
    { note: 'read only (touch)', req: ['GET', '/api/session'] },
    { note: 'change the data', req: ['POST', '/api/session', { views: 2 }] },
    { note: 'read only again', req: ['GET', '/api/session'] }
  ]
  const resave = [
    { note: 'no cookie, read only (saveUninitialized)', cookie: 'none', req: ['GET', '/api/session'] },
    { note: 'let a second pass', sleep_ms: 1100 },
    { note: 'read only (resave)', req: ['GET', '/api/session'] },
    { note: 'change the data', req: ['POST', '/api/session', { views: 1 }] }
  ]
  const shortLived = [
    { note: 'create with cookie.maxAge 2 s', cookie: 'none', req: ['POST', '/api/session', { views: 1 }] },
    { note: 'wait past the expiry', sleep_ms: 3100 },
    { note: 'read with the expired session\'s cookie', req: ['GET', '/api/session'] }
  ]
  const out = []
  for (const store of ['redis', 'pg']) {
    out.push({ name: `${store}_defaults`, store, env: {}, steps: lifecycle })
    out.push({ name: `${store}_max_age`, store, env: { SESSION_MAX_AGE_MS: '3600000' }, steps: withMaxAge })
    out.push({ name: `${store}_rolling`, store, env: { SESSION_MAX_AGE_MS: '3600000', SESSION_ROLLING: 'true' }, steps: withMaxAge })
    out.push({ name: `${store}_resave_save_uninitialized`, store, env: { SESSION_MAX_AGE_MS: '3600000', SESSION_RESAVE: 'true', SESSION_SAVE_UNINITIALIZED: 'true' }, steps: resave })
    out.push({ name: `${store}_short_max_age`, store, env: { SESSION_MAX_AGE_MS: '2000' }, steps: shortLived })
    out.push({ name: `${store}_cookie_options`, store, env: { SESSION_MAX_AGE_MS: '3600000', SESSION_COOKIE: JSON.stringify({ domain: 'example.test', sameSite: 'strict', secure: false, priority: 'high', partitioned: false }) }, steps: withMaxAge.slice(0, 1) })
    out.push({ name: `${store}_bad_records`, store, env: {}, steps: badRecordSteps(store), snapshot: 'step' })
  }
  return out
}

async function runScenario (sc, redis, pg) {
  if (sc.store === 'redis') await redis.flushDb()
  else {
    // connect-pg-simple's own table.sql, as its README tells users to create it.
    await pg.query('DROP TABLE IF EXISTS session')
    await pg.query(fs.readFileSync(require.resolve('connect-pg-simple/table.sql', { paths: [__dirname] }), 'utf8'))
  }
  const server = await startServer({ SESSION_STORE: sc.store, ...sc.env })
  const ctx = { jar: undefined, sid: undefined, now: Date.now() }
  const steps = []
  try {
    for (const step of sc.steps) {
      ctx.now = Date.now()
      const rec = { note: step.note }
      if (step.case) rec.case = step.case
      if (step.sleep_ms) {
        await new Promise((resolve) => setTimeout(resolve, step.sleep_ms))
        rec.sleep_ms = step.sleep_ms
      } else if (step.write) {
        const { sid, value } = step.write(ctx)
        ctx.stepSid = sid
        rec.at_ms = ctx.now
        if (sc.store === 'redis') {
          await redis.set(`sess:${sid}`, value, { expiration: { type: 'EX', value: 86400 } })
          rec.write = { key: `sess:${sid}`, value, ttl_s: 86400 }
        } else {
          try {
            await pg.query("INSERT INTO session (sid, sess, expire) VALUES ($1, $2::text::json, now() + interval '1 day') ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire", [sid, value])
            rec.write = { sid, sess: value, expire: 'now() + 1 day' }
          } catch (e) {
            rec.write = { sid, sess: value, expire: 'now() + 1 day', refused_by_postgresql: e.message }
          }
        }
      } else {
        const [method, pathname, body] = step.req
        let cookieHeader
        const c = step.cookie === undefined ? 'jar' : step.cookie
        if (c === 'jar') cookieHeader = ctx.jar === undefined ? undefined : `${NAME}=${ctx.jar}`
        else if (c === 'none') cookieHeader = undefined
        else cookieHeader = typeof c === 'function' ? c(ctx) : c
        if (cookieHeader !== undefined) {
          const m = new RegExp(`(?:^|; )${NAME.replace('.', '\\.')}=([^;]*)`).exec(cookieHeader)
          if (m) ctx.stepSid = sidOf(m[1])
        }
        rec.at_ms = ctx.now
        if (process.env.RECORD_VERBOSE) process.stderr.write(`  ${step.note}\n`)
        rec.request = { method, path: pathname, cookie: cookieHeader === undefined ? null : cookieHeader, body: body === undefined ? null : body }
        const res = await request(server.port, method, pathname, cookieHeader, body)
        rec.response = res
        for (const h of res.set_cookie) {
          const { name, value } = cookieFromSetCookie(h)
          if (name === NAME) {
            ctx.jar = value
            ctx.sid = sidOf(value)
            rec.response_sid = ctx.sid
          }
        }
      }
      let snapshot = sc.store === 'redis' ? await redisSnapshot(redis) : await pgSnapshot(pg)
      if (sc.snapshot === 'step') {
        // Only the record this step is about (the whole store grows with every case).
        const sids = [ctx.stepSid, rec.response_sid].filter(Boolean)
        snapshot = snapshot.filter((r) => sids.includes(r.sid !== undefined ? r.sid : r.key.slice('sess:'.length)))
      }
      rec.store_after = snapshot
      steps.push(rec)
    }
  } finally {
    await stopServer(server)
  }
  const scenario = { name: sc.name, store: sc.store, options: optionsOf(sc.env), steps }
  const errs = server.stderr().split('\n').filter((l) => l.startsWith('server.js:')).map((l) => l.slice(0, 200))
  if (errs.length) scenario.server_errors = errs
  return scenario
}

function optionsOf (env) {
  return {
    name: NAME,
    secret: SECRETS,
    resave: env.SESSION_RESAVE === 'true',
    saveUninitialized: env.SESSION_SAVE_UNINITIALIZED === 'true',
    rolling: env.SESSION_ROLLING === 'true',
    cookie: env.SESSION_MAX_AGE_MS ? { maxAge: Number(env.SESSION_MAX_AGE_MS) } : {}
  }
}

// ---- signatures: cookie-signature 1.0.7 and cookie 0.7.2, called directly -------------------

function signatureVectors () {
  const secrets = ['secret-new', 'secret-old', 'a', 'ключ-🔑', 'x'.repeat(100)]
  // uid-safe sids are 24 random bytes in base64url; fixed ones here so the file is stable,
  // chosen to give signatures with `+` and `/` (which the cookie must URL-encode).
  const sids = []
  for (let i = 0; sids.length < 6 && i < 10000; i++) {
    const sid = Buffer.from(`fixed-sid-${i}`.padEnd(24, '.')).toString('base64url')
    const sig = signature.sign(sid, secrets[0])
    const want = [/\+/, /\//, /\+.*\/|\/.*\+/, /^[^+/]*$/][sids.length % 4]
    if (want.test(sig.slice(sid.length + 1))) sids.push(sid)
  }
  sids.push('a.b.c', '', 'sid with spaces and ü')
  const out = []
  for (const sid of sids) {
    for (const secret of secrets) {
      const signed = signature.sign(sid, secret)
      out.push({
        sid,
        secret,
        signed,
        cookie_value: encodeURIComponent('s:' + signed),
        set_cookie: cookie.serialize(NAME, 's:' + signed, { path: '/', httpOnly: true })
      })
    }
  }
  return out
}

function unsignVectors () {
  const sid = 'VBFEUUBshl3roZSnqe-caSobqroPU8q6'
  const good = signature.sign(sid, SECRETS[0])
  const sig = good.slice(sid.length + 1)
  const inputs = [
    good,
    signature.sign(sid, SECRETS[1]),
    good + '=',
    sid + '.' + sig.replace(/\+/g, '-').replace(/\//g, '_'),
    sid + '.' + sig.slice(0, -1),
    sid + '.',
    sid,
    '',
    '.' + sig,
    sid + 'x.' + sig,
    good + '.' + sig
  ]
  return inputs.map((input) => {
    let index = -1
    for (let i = 0; i < SECRETS.length; i++) {
      if (signature.unsign(input, SECRETS[i]) !== false) { index = i; break }
    }
    return { input, secrets: SECRETS, result: index === -1 ? false : signature.unsign(input, SECRETS[index]), secret_index: index === -1 ? null : index }
  })
}

function cookieParseVectors () {
  const headers = [
    'connect.sid=s%3Aabc.def',
    'connect.sid=s:abc.def',
    'connect.sid="s%3Aabc.def"',
    'connect.sid=s%3Aabc.d%2Bf%2F',
    'connect.sid=s%3Aabc.d%ZZf',
    'a=1; connect.sid=s%3Afirst.x; connect.sid=s%3Asecond.y',
    'connect.sid=',
    'connect.sid= s%3Aabc.def ',
    'other=1'
  ]
  return headers.map((header) => ({ header, value: cookie.parse(header)[NAME] === undefined ? null : cookie.parse(header)[NAME] }))
}

// ---- main ---------------------------------------------------------------------------------

async function main () {
  if (!process.env.REDIS_URL || !process.env.DATABASE_URL) {
    throw new Error('REDIS_URL and DATABASE_URL must be set (source scripts/services.sh && services_start)')
  }
  for (const url of [process.env.REDIS_URL, process.env.DATABASE_URL]) {
    if (!/^[a-z]+:\/\/([^@]*@)?(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(url)) throw new Error(`not a loopback URL: ${url}`)
  }
  const redis = createClient({ url: process.env.REDIS_URL })
  await redis.connect()
  const pg = new Client({ connectionString: process.env.DATABASE_URL })
  await pg.connect()
  const redisInfo = await redis.info('server')
  const pgVersion = (await pg.query('SHOW server_version')).rows[0].server_version
  const pgTimeZone = (await pg.query('SHOW TimeZone')).rows[0].TimeZone

  const recorded = []
  for (const sc of scenarios()) {
    process.stderr.write(`record: ${sc.name}\n`)
    recorded.push(await runScenario(sc, redis, pg))
  }
  await redis.quit()
  await pg.end()

  const file = {
    schema: SCHEMA,
    recorded_with: {
      node: process.version,
      express: version('express'),
      'express-session': version('express-session'),
      'cookie-signature (express-session\'s copy)': version('cookie-signature', sessionDir),
      'cookie (express-session\'s copy)': version('cookie', sessionDir),
      'connect-redis': version('connect-redis'),
      redis: version('redis'),
      'connect-pg-simple': version('connect-pg-simple'),
      pg: version('pg'),
      redis_server: (/redis_version:(\S+)/.exec(redisInfo) || [])[1],
      postgresql_server: pgVersion,
      postgresql_timezone: pgTimeZone,
      recorded_at: new Date().toISOString()
    },
    signatures: signatureVectors(),
    unsign: unsignVectors(),
    cookie_parse: cookieParseVectors(),
    scenarios: recorded
  }
  fs.writeFileSync(OUT, JSON.stringify(file, null, 1) + '\n')
  process.stderr.write(`record: wrote ${OUT}\n`)
}

const SCHEMA = {
  about: 'How express-session 1.19 with connect-redis 10 / connect-pg-simple 10 behaves, recorded by interop/express-session/record.js against the real packages (versions in recorded_with) on loopback Redis and PostgreSQL. Re-record with: bash -c \'source scripts/services.sh && trap services_stop EXIT && services_start && node interop/express-session/record.js\'',
  signatures: '[{sid, secret, signed, cookie_value, set_cookie}]: cookie-signature sign(sid, secret) = sid + "." + base64(HMAC-SHA256(secret, sid)) without "=" padding; cookie_value = encodeURIComponent("s:" + signed), the connect.sid value as sent; set_cookie = cookie.serialize with {path: "/", httpOnly: true}',
  unsign: '[{input, secrets, result, secret_index}]: express-session\'s unsigncookie(input, secrets) (input is the cookie value after "s:", decoded): result is the sid (string) or false; secret_index the first secret that verified, or null',
  cookie_parse: '[{header, value}]: what express-session\'s cookie.parse(header)["connect.sid"] gives (null: absent); the first occurrence wins, %-escapes are decoded when valid, quotes stripped',
  scenarios: '[{name, store: "redis"|"pg", options (as passed to session()), steps, server_errors? (first lines the app logged for 5xx)}]',
  'scenarios[].steps[]': '{note, case?, at_ms (Date.now() when the step ran), then one of: request+response (+response_sid when a connect.sid was set) | write (a record written straight into the store by another program) | sleep_ms; store_after}',
  'steps[].request': '{method, path, cookie (the Cookie header sent, null: none), body (JSON sent, null: none)}',
  'steps[].response': '{status, set_cookie: [the Set-Cookie headers, verbatim], body (parsed JSON; null when empty; the session data without `cookie`)}; status null with no_response_within_ms: the app never answered',
  'steps[].store_after (redis)': '[{key, value (the string stored, verbatim), ttl_s (TTL: -1 no expiry), pttl_ms}] of every key, sorted by key (in *_bad_records: only the keys of the sid the step is about and of a sid the response set)',
  'steps[].store_after (pg)': '[{sid, sess (the json column as text, verbatim), expire (timestamp(6) without time zone as PostgreSQL prints it, in postgresql_timezone), expire_unix_s}] of every row of "session", sorted by sid'
}

main().catch((err) => {
  process.stderr.write(`record: ${err.stack || err}\n`)
  process.exit(1)
})
