-- wrk script for bench/load.sh: every connection is a client with its own sessions, and
-- checks its own counters. Run with as many threads as connections (`-tN -cN`): each thread
-- then has one connection, so requests and answers alternate and pair up.
--
-- Per session, in turn: create it (POST {"id": ..., "n": 0}, keep the cookie), then read it
-- (GET: the answer must carry this session's id, and `n` as last written) and increment it
-- (POST {"n": n + 1}). A read that shows an older `n` counts the writes lost; one that shows
-- another session's id counts as misrouted; one that shows an empty session counts the
-- session as lost (it is created again).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  per = tonumber(os.getenv("SESSIONS_PER_CLIENT") or "1000")
  cookies, counts = {}, {}
  idx, kind, pending = 0, nil, nil
  lost, misrouted, lost_sessions, failed, created, checked = 0, 0, 0, 0, 0, 0
end

local function id_of(i)
  return tid .. "-" .. i
end

function request()
  if pending ~= "post" then idx = idx % per + 1 end
  local cookie = cookies[idx]
  if cookie == nil then
    kind = "create"
    return wrk.format("POST", "/api/session", {["Content-Type"] = "application/json"},
      '{"id":"' .. id_of(idx) .. '","n":0}')
  elseif pending == "post" then
    kind = "post"
    return wrk.format("POST", "/api/session",
      {["Content-Type"] = "application/json", ["Cookie"] = cookie},
      '{"n":' .. (counts[idx] + 1) .. '}')
  else
    kind = "get"
    return wrk.format("GET", "/api/session", {["Cookie"] = cookie})
  end
end

function response(status, headers, body)
  if status ~= 200 then
    failed = failed + 1
    pending = nil
    return
  end
  if kind == "create" then
    local set = headers["set-cookie"] or headers["Set-Cookie"]
    if set then
      cookies[idx] = set:match("^([^;]+)")
      counts[idx] = 0
      created = created + 1
    else
      failed = failed + 1
    end
    pending = nil
  elseif kind == "get" then
    checked = checked + 1
    local id = body:match('"id":"([^"]*)"')
    local n = tonumber(body:match('"n":(%d+)') or "")
    pending = nil
    if id == nil then
      lost_sessions = lost_sessions + 1
      lost = lost + counts[idx]
      cookies[idx] = nil
    elseif id ~= id_of(idx) then
      misrouted = misrouted + 1
    elseif n == nil then
      failed = failed + 1
    else
      if n < counts[idx] then lost = lost + counts[idx] - n end
      -- n > counts: a write whose answer failed landed all the same.
      counts[idx] = n
      pending = "post"
    end
  elseif kind == "post" then
    counts[idx] = counts[idx] + 1
    pending = nil
  end
end

function done(summary, latency, requests)
  local t = {lost = 0, misrouted = 0, lost_sessions = 0, failed = 0, created = 0, checked = 0}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(t) do t[name] = t[name] + (thread:get(name) or 0) end
  end
  io.write(string.format(
    "CHECK created=%d checked=%d lost_writes=%d lost_sessions=%d misrouted=%d failed=%d\n",
    t.created, t.checked, t.lost, t.lost_sessions, t.misrouted, t.failed))
  io.write(string.format("LATENCY p50_ms=%.2f p99_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
