-- The load scenario of `make load`, run by wrk (bench/load/run.py starts it).
--
-- wrk runs one thread per connection (-t N -c N), so that each thread's Lua state
-- sees its one connection's requests and responses strictly in turn: a closed loop,
-- no think time. Each connection is a signed-in member of the demo organization who
-- requests the three endpoints in turn; the runner signs the sessions in before the
-- load starts (password hashing is deliberately slow) and hands them over in
-- LOAD_SESSIONS, with the paths in LOAD_DASHBOARD, LOAD_API_LIST and LOAD_KPIS.
--
-- wrk measures latency over all requests only; this script times each request
-- itself (the monotonic clock, from its sending to its whole response) and keeps
-- the latencies per endpoint. A response counts as an error unless it is a 200 whose
-- body is what the endpoint answers: a login page or an error page served with 200
-- would otherwise pass unnoticed. done() prints one JSON object for the runner.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } tl_timespec;
int clock_gettime(int clk_id, tl_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("tl_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local function required(name)
  local value = os.getenv(name)
  if value == nil or value == "" then
    error(name .. " is not set: run the scenario through bench/load/run.py")
  end
  return value
end

local NAMES = { "dashboard", "api list", "kpis api" }
local PATHS = { required("LOAD_DASHBOARD"), required("LOAD_API_LIST"), required("LOAD_KPIS") }

local function checked(name, body)
  if name == "dashboard" then
    local charts = 0
    for _ in body:gmatch("<svg") do charts = charts + 1 end
    if charts < 5 then return "fewer than the dashboard's 5 charts" end
  elseif name == "api list" then
    if not body:find('"results":%s*%[%s*{') then return "no results in the list" end
  elseif not body:find('"value_streams":%s*{%s*"') then
    return "no value_streams"
  end
  return nil
end

-- setup() runs in the main Lua state, once per thread: hand each its session.
local sessions = {}
for s in required("LOAD_SESSIONS"):gmatch("[^,]+") do sessions[#sessions + 1] = s end
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("session", sessions[(#threads - 1) % #sessions + 1])
  thread:set("first", #threads - 1)  -- threads start on different endpoints
end

-- Below: each thread's own state. What done() reads with thread:get() are globals,
-- and flat: wrk's thread:get() crashes on a table nested in a table, so each
-- endpoint has its own list of latencies (lat1..lat3) and error count (err1..err3).
local turn, sent_at, current
lat1, lat2, lat3 = {}, {}, {}
err1, err2, err3 = 0, 0, 0
first_errors = {}
local latencies = { lat1, lat2, lat3 }

function init(args)
  turn = first % #PATHS
end

function request()
  turn = turn % #PATHS + 1
  current = turn
  sent_at = now_ms()
  return wrk.format("GET", PATHS[current], { ["Cookie"] = "sessionid=" .. session })
end

function response(status, headers, body)
  local elapsed = now_ms() - sent_at
  local list = latencies[current]
  list[#list + 1] = elapsed
  local why = nil
  if status ~= 200 then
    why = "HTTP " .. status .. ", expected 200"
  else
    why = checked(NAMES[current], body or "")
  end
  if why then
    if current == 1 then err1 = err1 + 1 elseif current == 2 then err2 = err2 + 1 else err3 = err3 + 1 end
    if #first_errors < 5 then first_errors[#first_errors + 1] = NAMES[current] .. ": " .. why end
  end
end

-- done() runs in the main state: gather every thread's latencies and errors.
local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
  local out = {}
  for i, name in ipairs(NAMES) do
    local all, failed = {}, 0
    for _, thread in ipairs(threads) do
      for _, v in ipairs(thread:get("lat" .. i)) do all[#all + 1] = string.format("%.3f", v) end
      failed = failed + thread:get("err" .. i)
    end
    out[#out + 1] = string.format(
      '%s: {"latencies_ms": [%s], "errors": %d}', json_string(name), table.concat(all, ","), failed
    )
  end
  local notes = {}
  for _, thread in ipairs(threads) do
    for _, note in ipairs(thread:get("first_errors")) do notes[#notes + 1] = json_string(note) end
  end
  local e = summary.errors
  io.write(string.format(
    '{"endpoints": {%s}, "duration_s": %.3f, "socket_errors": %d, "error_notes": [%s]}\n',
    table.concat(out, ", "), summary.duration / 1e6,
    e.connect + e.read + e.write + e.timeout, table.concat(notes, ",")
  ))
end
