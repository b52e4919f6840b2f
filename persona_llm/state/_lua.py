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

# Replace the amount a token took in a window (no-op once it left the window).
_CORRECT = """
local function correct(at, amounts, token, amount)
  if redis.call('ZSCORE', at, token) then
    local before = tonumber(redis.call('HGET', amounts, token) or '0')
    redis.call('HSET', amounts, token, amount)
    redis.call('HINCRBYFLOAT', amounts, '_sum', tonumber(amount) - before)
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

# KEYS: two per rule (the window's sorted set of tokens by time, and its hash of amounts
# whose field '_sum' keeps their sum, so a call costs O(1) plus the entries that expire;
# a lease rule uses only the first: tokens by expiry; a hold rule only the first: the
# provider's limits: 'u:<name>' until, 'r:<name>' remaining at time 'a:<name>', refilling
# 'v:<name>' a second, see HOLD), then two per correction (a
# window's set and hash). ARGV: token, the number of rules, per rule kind ('w', 'l' or 'h'),
# limit, window or lease ttl, amount (a hold: its tokens, input and output tokens); then per
# correction the earlier token and its real amount. Corrections go first, so the room they
# free counts for this call. A refusal by a hold names the provider's limit (5th value).
ACQUIRE = (
    _NOW
    + _CORRECT
    + _NEED
    + """
local token = ARGV[1]
local rules = tonumber(ARGV[2])
local base = 2 + 4 * rules
for j = 1, #KEYS / 2 - rules do
  local k = 2 * (rules + j)
  correct(KEYS[k - 1], KEYS[k], ARGV[base + 2 * j - 1], ARGV[base + 2 * j])
end
for i = 1, rules do
  local at, amounts = KEYS[2 * i - 1], KEYS[2 * i]
  local kind, limit = ARGV[4 * i - 1], tonumber(ARGV[4 * i])
  local span, amount = tonumber(ARGV[4 * i + 1]), tonumber(ARGV[4 * i + 2])
  if kind == 'h' then
    local held = redis.call('HGETALL', at)
    local f = {}
    for j = 1, #held, 2 do f[held[j]] = held[j + 1] end
    for field, value in pairs(f) do
      local ends = tonumber(value)
      if string.sub(field, 1, 2) == 'u:' and ends > now then
        local name = string.sub(field, 3)
        local rate = tonumber(f['v:' .. name] or '0')
        local left = tonumber(f['r:' .. name] or '0')
          + rate * (now - tonumber(f['a:' .. name] or tostring(now)))
        local n = need(name, limit, span, amount)
        if left < n then
          local wait = ends - now
          if rate > 0 and (n - left) / rate < wait then wait = (n - left) / rate end
          return {0, tostring(wait), i - 1, tostring(left), name}
        end
      end
    end
  elseif kind == 'l' then
    redis.call('ZREMRANGEBYSCORE', at, '-inf', now)
    local used = redis.call('ZCARD', at)
    if used + 1 > limit then return {0, '0.05', i - 1, tostring(used)} end
  else
    local old = redis.call('ZRANGEBYSCORE', at, '-inf', now - span)
    if #old > 0 then
      local gone = 0
      for _, member in ipairs(old) do
        gone = gone + tonumber(redis.call('HGET', amounts, member) or '0')
        redis.call('HDEL', amounts, member)
      end
      redis.call('ZREMRANGEBYSCORE', at, '-inf', now - span)
      if redis.call('ZCARD', at) == 0 then
        redis.call('HSET', amounts, '_sum', '0')
      else
        redis.call('HINCRBYFLOAT', amounts, '_sum', -gone)
      end
    end
    local used = tonumber(redis.call('HGET', amounts, '_sum') or '0')
    if used + amount > limit then
      if amount > limit then return {0, '-1', i - 1, tostring(used)} end
      local need, freed, wait = used + amount - limit, 0, span
      local entries = redis.call('ZRANGE', at, 0, -1, 'WITHSCORES')
      for j = 1, #entries, 2 do
        freed = freed + tonumber(redis.call('HGET', amounts, entries[j]) or '0')
        if freed >= need then
          wait = tonumber(entries[j + 1]) + span - now
          break
        end
      end
      if wait < 0 then wait = 0 end
      return {0, tostring(wait), i - 1, tostring(used)}
    end
  end
end
for i = 1, rules do
  local at, amounts = KEYS[2 * i - 1], KEYS[2 * i]
  local kind, span, amount = ARGV[4 * i - 1], tonumber(ARGV[4 * i + 1]), ARGV[4 * i + 2]
  local keep = math.ceil(span * 1000) + 1000
  if kind == 'h' then
    local held = redis.call('HGETALL', at)
    for j = 1, #held, 2 do
      local field = held[j]
      if string.sub(field, 1, 2) == 'u:' and tonumber(held[j + 1]) > now then
        local name = string.sub(field, 3)
        local taken = need(name, tonumber(ARGV[4 * i]), span, tonumber(amount))
        redis.call('HINCRBYFLOAT', at, 'r:' .. name, -taken)
      end
    end
  elseif kind == 'l' then
    redis.call('ZADD', at, now + span, token)
    redis.call('PEXPIRE', at, keep)
  else
    redis.call('ZADD', at, now, token)
    redis.call('HSET', amounts, token, amount)
    redis.call('HINCRBYFLOAT', amounts, '_sum', amount)
    redis.call('PEXPIRE', at, keep)
    redis.call('PEXPIRE', amounts, keep)
  end
end
return {1, '0', -1, '0'}
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
correct(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
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
  correct(KEYS[2 * j - 1], KEYS[2 * j], ARGV[2 * j], ARGV[2 * j + 1])
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
