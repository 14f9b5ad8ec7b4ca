// Express 5 + cookie-session 2.1.1, the reference our `express` format is compatible with.
// Serves /visit, /read, /plain on 127.0.0.1:PORT (argv[2], default 3000), like bench-server.
'use strict';
const express = require('express');
const cookieSession = require('cookie-session');

const port = Number(process.argv[2] || 3000);
const CSRF = '0123456789abcdef0123456789abcdef';
const app = express();

// Registered before the middleware: never touches the session (each server's own ceiling).
app.get('/plain', (req, res) => res.send('plain'));

app.use(cookieSession({
  name: 'session',
  keys: ['bench-secret-0123456789abcdef-0123456789abcdef'],
  httpOnly: true,
  sameSite: 'lax',
}));

app.get('/visit', (req, res) => {
  const s = req.session;
  s.views = (s.views || 0) + 1;
  if (s.user_id === undefined) {
    s.user_id = 42;
    s.csrf = CSRF;
  }
  res.send('views=' + s.views);
});

app.get('/read', (req, res) => res.send('views=' + (req.session.views || 0)));

app.listen(port, '127.0.0.1');
