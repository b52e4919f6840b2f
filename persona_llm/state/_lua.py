"""The Lua scripts of the Redis store: each operation runs atomically on the server.

Time is the server's (``TIME``), so workers on machines whose clocks differ still agree on
windows, leases and cool-downs. Numbers go back as strings: Redis truncates Lua numbers to
integers.
"""

from __future__ import annotations

__all__ = ["ACQUIRE", "ADJUST", "BREAKER_READY", "BREAKER_REPORT", "HOLD", "SETTLE"]

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# The reserve's time: `now` in seconds, and `micros` (exact) and `stamp` (its digits) in
# whole microseconds, a window's scores: integers, which a small sorted set (a ziplist)
# keeps as integers, where it would parse a fractional score with strtod at every step of
# every insert; and a ZADD of `stamp` is not a %.17g of `now` first.
_MICROS = """
local t = redis.call('TIME')
local seconds, fraction = tonumber(t[1]), tonumber(t[2])
local now, micros = seconds + fraction / 1000000, seconds * 1000000 + fraction
local stamp = t[1] .. string.sub('00000' .. t[2], -6)
"""

# Replace the amount a token took in a window (no-op once it left the window: a token's
# amount is in the window's hash exactly as long as the token is in its sorted set).
_CORRECT = """
local function correct(amounts, token, amount)
  local before = redis.call('HGET', amounts, token)
  if before then
    redis.call('HSET', amounts, token, amount)
    redis.call('HINCRBYFLOAT', amounts, '_sum', tonumber(amount) - tonumber(before))
  end
end
"""

# What a call takes from the provider's limit `name` (a hold rule's ARGV: tokens, input
# tokens, output tokens; requests and a 429's retry-after take one call).
_NEED = """
local function need(name, tokens, input, output)
  if name == 'tokens' then return tokens end
  if name == 'input-tokens' then return input end
  if name == 'output-tokens' then return output end
  return 1
end
"""

# A window is a sorted set (tokens by time in microseconds, see _MICROS) and a hash (each
# token's amount; '_sum' their sum; '_exp' until when both keys are known to live; '_old' a
# time no member is older than, in whole milliseconds). The reserve reads a window's hash
# fields once, keeps its changes in `windows` and writes them with one HSET at the end
# (`flush`), so a window costs a call three commands (HMGET, ZADD, HSET); both keys' expiry
# is renewed only once per window length (they live up to two), not on every call. Members
# that left the window are removed lazily: '_sum' may still count some, which only makes it
# larger, so a call that fits under it fits under the exact sum; a call that does not fit
# removes them first and is judged on the exact sum; and as housekeeping, the next reserve
# removes them once the last removal is more than a 60th of the window ago (a second, for a
# minute's window). Numbers are written as integers where they are (`number`): Lua reads and
# writes other numbers through the C library's strtod and %.17g, which cost far more.
_WINDOWS = """
local windows = {}
local function number(x)
  if x % 1 == 0 and x > -1e15 and x < 1e15 then return string.format('%d', x) end
  return string.format('%.17g', x)
end
local function window(at, amounts, got, from)
  local w = {at = at, sum = tonumber(got[from] or '0'), exp = tonumber(got[from + 1] or '0'),
    old = tonumber(got[from + 2] or '0'), set = {}, dirty = false, aged = false,
    renew = false, keep = false, span = 0, take = 0}
  windows[amounts] = w
  return w
end
local function expire(w, at, amounts, cut)
  w.old, w.aged, w.dirty = math.floor(cut / 1000), true, true
  local old = redis.call('ZRANGEBYSCORE', at, '-inf', cut)
  if #old == 0 then return end
  local gone = 0
  for s = 1, #old, 1000 do
    local chunk = {unpack(old, s, math.min(s + 999, #old))}
    local got = redis.call('HMGET', amounts, unpack(chunk))
    for j, member in ipairs(chunk) do
      gone = gone + tonumber(w.set[member] or got[j] or '0')
      w.set[member] = nil
    end
    redis.call('HDEL', amounts, unpack(chunk))
  end
  redis.call('ZREMRANGEBYSCORE', at, '-inf', cut)
  w.sum = w.sum - gone
  if w.sum < 0 then w.sum = 0 end
end
local function flush()
  for amounts, w in pairs(windows) do
    if w.dirty then
      local args, n = {'_sum', number(w.sum), false, false, false, false, false, false}, 2
      if w.aged then
        args[3], args[4], n = '_old', number(w.old), 4
      end
      if w.keep then
        args[n + 1], args[n + 2], n = '_exp', number(w.exp), n + 2
      end
      for field, value in pairs(w.set) do
        args[n + 1], args[n + 2], n = field, value, n + 2
      end
      redis.call('HSET', amounts, unpack(args, 1, n))
      if w.keep then
        redis.call('PEXPIRE', amounts, w.keep)
        redis.call('PEXPIRE', w.at, w.keep)
      end
    end
  end
end
"""

# KEYS: two per rule (a window's sorted set and hash, see _WINDOWS; a lease rule uses only
# the first: tokens by expiry; a hold rule only the first: the provider's limits:
# 'u:<name>' until, 'r:<name>' remaining at time 'a:<name>', refilling 'v:<name>' a second,
# see HOLD), then two per correction (a window's set and hash). ARGV: token, the number of
# rules, per rule kind ('w', 'l' or 'h'), limit, window or lease ttl, amount (a hold: its
# tokens, input and output tokens); then per correction the earlier token and its real
# amount. Corrections go first, so the room they free counts for this call; they are
# written whether the call is admitted or not. Admitted: 1 (an integer reply, the cheapest
# to read); refused: {0, wait, rule index, used}, and a refusal by a hold names the
# provider's limit (5th value).
ACQUIRE = (
    _MICROS
    + _NEED
    + _WINDOWS
    + """
local token = ARGV[1]
local rules = tonumber(ARGV[2])
local base = 2 + 4 * rules
for j = 1, #KEYS / 2 - rules do
  local k = 2 * (rules + j)
  local amounts, done, amount = KEYS[k], ARGV[base + 2 * j - 1], ARGV[base + 2 * j]
  local w, before = windows[amounts], nil
  if w then
    before = w.set[done] or redis.call('HGET', amounts, done)
  else
    local got = redis.call('HMGET', amounts, done, '_sum', '_exp', '_old')
    before, w = got[1], window(KEYS[k - 1], amounts, got, 2)
  end
  if before then
    w.sum = w.sum + tonumber(amount) - tonumber(before)
    w.set[done] = amount
    w.dirty = true
  end
end
local holds = nil  -- per hold rule, the provider's limits held (the hash rarely exists)
for i = 1, rules do
  local at, amounts, kind = KEYS[2 * i - 1], KEYS[2 * i], ARGV[4 * i - 1]
  if kind == 'w' then
    local limit, span = tonumber(ARGV[4 * i]), tonumber(ARGV[4 * i + 1])
    local amount = tonumber(ARGV[4 * i + 2])
    local w = windows[amounts]
      or window(at, amounts, redis.call('HMGET', amounts, '_sum', '_exp', '_old'), 1)
    if w.exp < now + span + 1 then
      -- once a window length the keys' expiry is renewed (when admitted), and a hash
      -- whose set is gone (evicted) starts over
      if w.sum ~= 0 and redis.call('ZCARD', at) == 0 then
        redis.call('DEL', amounts)
        w.sum, w.set = 0, {}
      end
      w.renew = true
    end
    local before = now - span
    local old = w.old / 1000
    if old < before and (old < before - span / 60 or w.sum + amount > limit) then
      expire(w, at, amounts, math.floor(micros - span * 1000000))
    end
    local used = w.sum
    if used + amount > limit then
      flush()
      if amount > limit then return {0, '-1', i - 1, tostring(used)} end
      local need, freed, wait = used + amount - limit, 0, span
      local entries = redis.call('ZRANGE', at, 0, -1, 'WITHSCORES')
      for j = 1, #entries, 2 do
        freed = freed + tonumber(redis.call('HGET', amounts, entries[j]) or '0')
        if freed >= need then
          wait = tonumber(entries[j + 1]) / 1000000 + span - now
          break
        end
      end
      if wait < 0 then wait = 0 end
      return {0, tostring(wait), i - 1, tostring(used)}
    end
    w.span, w.take = span, w.take + amount
  elseif kind == 'h' then
    local held = redis.call('HGETALL', at)
    if #held > 0 then
      local tokens, input = tonumber(ARGV[4 * i]), tonumber(ARGV[4 * i + 1])
      local output = tonumber(ARGV[4 * i + 2])
      local f = {}
      for j = 1, #held, 2 do f[held[j]] = held[j + 1] end
      holds = holds or {}
      holds[i] = f
      for field, value in pairs(f) do
        local ends = tonumber(value)
        if string.sub(field, 1, 2) == 'u:' and ends > now then
          local name = string.sub(field, 3)
          local rate = tonumber(f['v:' .. name] or '0')
          local left = tonumber(f['r:' .. name] or '0')
            + rate * (now - tonumber(f['a:' .. name] or tostring(now)))
          local n = need(name, tokens, input, output)
          if left < n then
            local wait = ends - now
            if rate > 0 and (n - left) / rate < wait then wait = (n - left) / rate end
            flush()
            return {0, tostring(wait), i - 1, tostring(left), name}
          end
        end
      end
    end
  else
    redis.call('ZREMRANGEBYSCORE', at, '-inf', now)
    local used = redis.call('ZCARD', at)
    if used + 1 > tonumber(ARGV[4 * i]) then
      flush()
      return {0, '0.05', i - 1, tostring(used)}
    end
  end
end
-- admitted: take this call's share in every rule
for i = 1, rules do
  local at, amounts, kind = KEYS[2 * i - 1], KEYS[2 * i], ARGV[4 * i - 1]
  if kind == 'w' then
    local w = windows[amounts]
    redis.call('ZADD', at, stamp, token)
    if w.renew then
      w.keep = math.ceil((2 * w.span + 1) * 1000)
      w.exp = math.floor(now) + w.keep / 1000  -- whole seconds: cheap to read back
    end
    w.set[token] = ARGV[4 * i + 2]
    w.sum, w.take, w.dirty = w.sum + w.take, 0, true
  elseif kind == 'h' then
    if holds and holds[i] then
      local tokens, input = tonumber(ARGV[4 * i]), tonumber(ARGV[4 * i + 1])
      local output = tonumber(ARGV[4 * i + 2])
      for field, value in pairs(holds[i]) do
        if string.sub(field, 1, 2) == 'u:' and tonumber(value) > now then
          local name = string.sub(field, 3)
          redis.call('HINCRBYFLOAT', at, 'r:' .. name, -need(name, tokens, input, output))
        end
      end
    end
  else
    local span = tonumber(ARGV[4 * i + 1])
    redis.call('ZADD', at, now + span, token)
    redis.call('PEXPIRE', at, math.ceil(span * 1000) + 1000)
  end
end
flush()
return 1
"""
)

# KEYS: a target's hold hash; ARGV: per provider limit its name, remaining, seconds until
# its full reset and units refilled a second. Each replaces that limit's earlier hold
# ('u:' until, 'r:' remaining at time 'a:', 'v:' rate); the hash lives until the last reset.
HOLD = (
    _NOW
    + """
local key = KEYS[1]
local keep = 0
for j = 1, #ARGV, 4 do
  local name, seconds = ARGV[j], tonumber(ARGV[j + 2])
  redis.call('HSET', key, 'u:' .. name, tostring(now + seconds), 'r:' .. name, ARGV[j + 1],
    'a:' .. name, tostring(now), 'v:' .. name, ARGV[j + 3])
  keep = math.max(keep, math.ceil(seconds * 1000) + 1000)
end
if redis.call('PTTL', key) < keep then redis.call('PEXPIRE', key, keep) end
return 1
"""
)

# KEYS: the window's sorted set and hash; ARGV: token, amount.
ADJUST = (
    _CORRECT
    + """
correct(KEYS[2], ARGV[1], ARGV[2])
return 1
"""
)

# KEYS: two per correction (a window's set and hash), then one lease set per release.
# ARGV: the number of corrections, per correction token and amount, per release the token.
SETTLE = (
    _CORRECT
    + """
local n = tonumber(ARGV[1])
for j = 1, n do
  correct(KEYS[2 * j], ARGV[2 * j], ARGV[2 * j + 1])
end
for r = 1, #KEYS - 2 * n do
  redis.call('ZREM', KEYS[2 * n + r], ARGV[2 * n + 1 + r])
end
return 1
"""
)

# KEYS: one hash per breaker (f: failures, o: open until, p: probe until); ARGV: probe ttl.
BREAKER_READY = (
    _NOW
    + """
local out = {}
for i, key in ipairs(KEYS) do
  local o = tonumber(redis.call('HGET', key, 'o') or '0')
  if o == 0 then
    out[i] = '-1'
  elseif now < o then
    out[i] = tostring(o - now)
  else
    local p = tonumber(redis.call('HGET', key, 'p') or '0')
    if now < p then
      out[i] = tostring(p - now)
    else
      redis.call('HSET', key, 'p', tostring(now + tonumber(ARGV[1])))
      out[i] = '-1'
    end
  end
end
return out
"""
)

# KEYS: the breaker's hash; ARGV: ok (1/0), threshold, cooldown. Returns 1 on a change.
BREAKER_REPORT = (
    _NOW
    + """
local key = KEYS[1]
local o = tonumber(redis.call('HGET', key, 'o') or '0')
if ARGV[1] == '1' then
  redis.call('DEL', key)
  if o > 0 then return 1 end
  return 0
end
local f = redis.call('HINCRBY', key, 'f', 1)
local threshold, cooldown = tonumber(ARGV[2]), tonumber(ARGV[3])
local half_open = o > 0 and now >= o
local keep = math.ceil((cooldown + 3600) * 1000)
if (o == 0 and threshold > 0 and f >= threshold) or half_open then
  redis.call('HSET', key, 'o', tostring(now + cooldown), 'p', '0')
  redis.call('PEXPIRE', key, keep)
  return 1
end
redis.call('PEXPIRE', key, keep)
return 0
"""
)
