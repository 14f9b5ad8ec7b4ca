'use strict'

// Reference Express app for measuring, and testing against, express-session 1.19 with
// connect-redis 10 (node-redis client) or connect-pg-simple 10 (pg). Its JSON API matches
// interop/express/server.js where the two overlap, so one harness can drive both.
//
// Configuration (environment):
//   PORT                 port to listen on; 0 or unset = any free port
//   SESSION_STORE        `redis` (needs REDIS_URL) or `pg` (needs DATABASE_URL); required
//   SESSION_SECRETS      comma-separated secrets, the first one signs (required)
//   SESSION_NAME         cookie name (default `connect.sid`)
//   SESSION_RESAVE, SESSION_SAVE_UNINITIALIZED, SESSION_ROLLING
//                        `true` or `false` (default `false` for all three)
//   SESSION_MAX_AGE_MS   cookie.maxAge in milliseconds (default: none, a browser-session cookie)
//   SESSION_COOKIE       more cookie options as a JSON object (domain, sameSite, secure, ...)
//   SESSION_TTL_S        the store's `ttl` option in seconds (default: the store's, 86400)
//   SESSION_PG_TABLE     connect-pg-simple's table (default `session`, created when missing)
// It always listens on 127.0.0.1 and prints `listening <port>` on stdout once it accepts
// connections. It exits with status 0 on SIGTERM or SIGINT.
//
// API (every body is JSON; the session's data never includes `cookie`):
//   GET    /api/session              -> 200, the session data (`{}` when new)
//   POST   /api/session              -> merge the JSON object body into the session, 200 + data
//   PUT    /api/session              -> replace the data with the body, 200 + data
//   DELETE /api/session              -> req.session.destroy(), 204
//   POST   /api/session/regenerate   -> req.session.regenerate(), then merge the body, 200 + data
//   `?max_age_ms=N` on any of these sets `req.session.cookie.maxAge = N` before the handler
//   (a changed cookie.maxAge). A body that is not a JSON object, or a bad max_age_ms, gives
//   400 `{"error": "..."}`. An error from the session middleware or the store (a malformed
//   record, for one) gives 500 `{"error": "..."}`, as Express's own handler would (status only).
//   GET    /health                   -> 200 `ok`

const express = require('express')
const session = require('express-session')

const HOST = '127.0.0.1'

function fail (message) {
  process.stderr.write(`server.js: ${message}\n`)
  process.exit(2)
}

function flag (name) {
  const raw = process.env[name]
  if (raw === undefined || raw === '' || raw === 'false') return false
  if (raw === 'true') return true
  fail(`bad ${name}: ${raw} (expected true or false)`)
}

function integer (name, min) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return undefined
  if (!/^[0-9]{1,15}$/.test(raw) || Number(raw) < min) fail(`bad ${name}: ${raw}`)
  return Number(raw)
}

const port = process.env.PORT === undefined || process.env.PORT === '' ? 0 : Number(process.env.PORT)
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad PORT: ${process.env.PORT}`)

const secrets = (process.env.SESSION_SECRETS || '').split(',').filter((s) => s !== '')
if (secrets.length === 0) fail('SESSION_SECRETS must list at least one secret (comma-separated, the first signs)')

const name = process.env.SESSION_NAME || 'connect.sid'
const maxAge = integer('SESSION_MAX_AGE_MS', 1)
const ttl = integer('SESSION_TTL_S', 1)
let cookieOptions = {}
if (process.env.SESSION_COOKIE) {
  try { cookieOptions = JSON.parse(process.env.SESSION_COOKIE) } catch (err) { fail(`bad SESSION_COOKIE: ${err.message}`) }
  if (cookieOptions === null || typeof cookieOptions !== 'object' || Array.isArray(cookieOptions)) fail('SESSION_COOKIE must be a JSON object')
}
if (maxAge !== undefined) cookieOptions.maxAge = maxAge

let store
let closeStore = async () => {}
const storeKind = process.env.SESSION_STORE || ''
if (storeKind === 'redis') {
  if (!process.env.REDIS_URL) fail('SESSION_STORE=redis needs REDIS_URL')
  const { createClient } = require('redis')
  const { RedisStore } = require('connect-redis')
  const client = createClient({ url: process.env.REDIS_URL })
  client.on('error', (err) => process.stderr.write(`server.js: redis: ${err.message}\n`))
  store = new RedisStore({ client, ttl })
  store.ready = client.connect()
  closeStore = () => client.quit()
} else if (storeKind === 'pg') {
  if (!process.env.DATABASE_URL) fail('SESSION_STORE=pg needs DATABASE_URL')
  const PgStore = require('connect-pg-simple')(session)
  store = new PgStore({
    conString: process.env.DATABASE_URL,
    tableName: process.env.SESSION_PG_TABLE || 'session',
    createTableIfMissing: true,
    // Pruning deletes rows at random moments: the measurements must see every row.
    pruneSessionInterval: false,
    ttl
  })
  store.ready = Promise.resolve()
  closeStore = () => store.close()
} else {
  fail(`SESSION_STORE must be redis or pg, not ${JSON.stringify(storeKind)}`)
}

const app = express()

app.use(session({
  name,
  secret: secrets,
  store,
  resave: flag('SESSION_RESAVE'),
  saveUninitialized: flag('SESSION_SAVE_UNINITIALIZED'),
  rolling: flag('SESSION_ROLLING'),
  cookie: cookieOptions
}))

// `?max_age_ms=N`: a changed cookie.maxAge for this session.
function maxAgeParam (req, res, next) {
  const raw = req.query.max_age_ms
  if (raw === undefined) return next()
  if (typeof raw !== 'string' || !/^[0-9]{1,15}$/.test(raw)) {
    return res.status(400).json({ error: 'max_age_ms must be a non-negative integer number of milliseconds' })
  }
  req.session.cookie.maxAge = Number(raw)
  next()
}

const jsonBody = [
  express.json({ type: () => true, strict: false }),
  function requireObject (req, res, next) {
    const body = req.body === undefined ? {} : req.body
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return res.status(400).json({ error: 'the body must be a JSON object' })
    }
    req.body = body
    next()
  }
]

// The session's data: every own enumerable property but `cookie`.
function data (sess) {
  const out = {}
  for (const key of Object.keys(sess)) {
    if (key !== 'cookie') out[key] = sess[key]
  }
  return out
}

// Merge as a JS app would (`req.session[key] = value`), skipping names the Session object
// already has through its prototype chain (save, touch, id, __proto__, ...) and `cookie`.
function merge (sess, body) {
  for (const key of Object.keys(body)) {
    if (key === 'cookie' || (key in sess && !Object.prototype.hasOwnProperty.call(sess, key))) continue
    sess[key] = body[key]
  }
}

app.get('/health', (req, res) => {
  res.type('text/plain').send('ok')
})

app.get('/api/session', maxAgeParam, (req, res) => {
  res.json(data(req.session))
})

app.post('/api/session', maxAgeParam, jsonBody, (req, res) => {
  merge(req.session, req.body)
  res.json(data(req.session))
})

app.put('/api/session', maxAgeParam, jsonBody, (req, res) => {
  for (const key of Object.keys(data(req.session))) delete req.session[key]
  merge(req.session, req.body)
  res.json(data(req.session))
})

app.delete('/api/session', maxAgeParam, (req, res, next) => {
  req.session.destroy((err) => {
    if (err) return next(err)
    res.status(204).end()
  })
})

app.post('/api/session/regenerate', maxAgeParam, jsonBody, (req, res, next) => {
  req.session.regenerate((err) => {
    if (err) return next(err)
    merge(req.session, req.body)
    res.json(data(req.session))
  })
})

app.use((err, req, res, next) => {
  const status = Number.isInteger(err.status) && err.status >= 400 && err.status < 600 ? err.status : 500
  if (status >= 500) process.stderr.write(`server.js: ${err.stack || err}\n`)
  if (res.headersSent) return res.end()
  res.status(status).json({ error: status === 400 ? `invalid request: ${err.message}` : err.message })
})

store.ready.then(() => {
  const server = app.listen(port, HOST, (err) => {
    if (err) fail(`cannot listen on ${HOST}:${port}: ${err.message}`)
    process.stdout.write(`listening ${server.address().port}\n`)
  })
  server.on('error', (err) => fail(`server error: ${err.message}`))

  // Clean exit: stop accepting, drop idle keep-alive connections, close the store, exit 0.
  function shutdown () {
    server.close(() => closeStore().finally(() => process.exit(0)))
    server.closeIdleConnections()
    setTimeout(() => process.exit(0), 2000).unref()
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
}, (err) => fail(`cannot connect to the store: ${err.message}`))
