'use strict'

// Reference Express app for the live interop tests of the Rust `cookie-session`
// crate. It uses the real npm `cookie-session` 2.1.1 with its defaults, and
// exposes the same small JSON API as the Rust example app, so a test harness
// can drive both with one cookie jar and compare what they do.
//
// Configuration (environment):
//   PORT               port to listen on; 0 or unset = any free port
//   SESSION_KEYS       comma-separated keys, the first one signs (required)
//   SESSION_NAME       cookie name (default `session`)
//   SESSION_ALGORITHM  optional HMAC algorithm for keygrip: sha1 (keygrip's
//                      default), sha256, sha384 or sha512
// It always listens on 127.0.0.1 and prints `listening <port>` on stdout once
// it accepts connections. It exits with status 0 on SIGTERM or SIGINT.
//
// API:
//   GET    /api/session  -> 200, the session as a JSON object (`{}` when new)
//   POST   /api/session  -> merge the JSON object body into the session, 200 + session
//   PUT    /api/session  -> replace the session with the JSON object body, 200 + session
//   DELETE /api/session  -> clear the session (`req.session = null`), 204
//   `?max_age_ms=N` on any of these sets `req.sessionOptions.maxAge = N` for
//   this response. A body that is not a JSON object, or a bad max_age_ms,
//   gives 400 `{"error": "..."}` and the session is not touched (not even read).
//   GET    /health       -> 200 `ok`

const path = require('node:path')
const express = require('express')
const cookieSession = require('cookie-session')

// keygrip is not a direct dependency: it comes with cookie-session (through
// `cookies`). Resolve it from there so we use the very copy cookie-session uses.
const cookiesDir = path.dirname(require.resolve('cookies', { paths: [path.dirname(require.resolve('cookie-session'))] }))
const Keygrip = require(require.resolve('keygrip', { paths: [cookiesDir] }))

const HOST = '127.0.0.1'
const ALGORITHMS = ['sha1', 'sha256', 'sha384', 'sha512']

function fail (message) {
  process.stderr.write(`server.js: ${message}\n`)
  process.exit(2)
}

const port = process.env.PORT === undefined || process.env.PORT === '' ? 0 : Number(process.env.PORT)
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad PORT: ${process.env.PORT}`)

const keys = (process.env.SESSION_KEYS || '').split(',').filter((k) => k !== '')
if (keys.length === 0) fail('SESSION_KEYS must list at least one key (comma-separated, the first signs)')

const name = process.env.SESSION_NAME || 'session'

const algorithm = process.env.SESSION_ALGORITHM || ''
if (algorithm !== '' && !ALGORITHMS.includes(algorithm)) {
  fail(`bad SESSION_ALGORITHM: ${algorithm} (expected one of ${ALGORITHMS.join(', ')})`)
}

const app = express()

// cookie-session with its defaults, except name and keys.
app.use(cookieSession({ name, keys: algorithm ? new Keygrip(keys, algorithm) : keys }))

// `?max_age_ms=N`: validated before anything reads the session.
function maxAge (req, res, next) {
  const raw = req.query.max_age_ms
  if (raw === undefined) return next()
  if (typeof raw !== 'string' || !/^-?[0-9]{1,15}$/.test(raw)) {
    return res.status(400).json({ error: 'max_age_ms must be an integer number of milliseconds' })
  }
  req.sessionOptions.maxAge = Number(raw)
  next()
}

// A JSON body, whatever the Content-Type; anything but a plain object is a 400.
const jsonBody = [
  express.json({ type: () => true, strict: false }),
  function requireObject (req, res, next) {
    const body = req.body
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return res.status(400).json({ error: 'the body must be a JSON object' })
    }
    next()
  }
]

app.get('/health', (req, res) => {
  res.type('text/plain').send('ok')
})

app.get('/api/session', maxAge, (req, res) => {
  res.json(req.session)
})

app.post('/api/session', maxAge, jsonBody, (req, res) => {
  const sess = req.session
  for (const key of Object.keys(req.body)) {
    // Same filter as cookie-session applies on load and on `req.session = obj`:
    // skip names the Session object already has through its prototype chain
    // (isNew, isChanged, isPopulated, toString, __proto__, ...).
    if (key in sess && !Object.prototype.hasOwnProperty.call(sess, key)) continue
    sess[key] = req.body[key]
  }
  res.json(sess)
})

app.put('/api/session', maxAge, jsonBody, (req, res) => {
  req.session = req.body
  res.json(req.session)
})

app.delete('/api/session', maxAge, (req, res) => {
  req.session = null
  res.status(204).end()
})

// Errors (a body that is not JSON, too large, ...) as JSON; the session is not touched.
app.use((err, req, res, next) => {
  const status = Number.isInteger(err.status) && err.status >= 400 && err.status < 600 ? err.status : 500
  if (status >= 500) process.stderr.write(`server.js: ${err.stack || err}\n`)
  res.status(status).json({ error: status === 400 ? `invalid JSON body: ${err.message}` : err.message })
})

const server = app.listen(port, HOST, (err) => {
  if (err) fail(`cannot listen on ${HOST}:${port}: ${err.message}`)
  process.stdout.write(`listening ${server.address().port}\n`)
})
server.on('error', (err) => fail(`server error: ${err.message}`))

// Clean exit: stop accepting, drop idle keep-alive connections, exit 0.
function shutdown () {
  server.close(() => process.exit(0))
  server.closeIdleConnections()
  setTimeout(() => process.exit(0), 2000).unref()
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
