-- The soak's mixed workload (tests/bench/soak.sh): every endpoint a client
-- of the API uses, in a fixed cycle of 20 requests per thread:
--   4 V1 shows, 4 V2 shows, 2 V1 lists (first page; status filter),
--   2 V2 lists with a filter, 2 V1 creates, 1 V2 create, 1 V2 edit
--   (severity, which appends an incident update), 1 incident updates list,
--   3 configuration reads (severities, types, roles, fields, options,
--   users, statuses, timestamps, identity, in turn).
--
-- Environment (set by soak.sh):
--   BENCH_KEY        the API key (viewer, incident_creator, incident_editor,
--                    global_access)
--   SOAK_IN          directory of inputs: ids (incident ids to show and
--                    edit), sevs (two severity ids the edits alternate),
--                    config.paths, v1list.paths, v2list.paths,
--                    create_v1.json / create_v2.json (@KEY@ wherever the
--                    key goes: the idempotency key and the name)
--   SOAK_RUN         prefix of this run's idempotency keys
--   SOAK_RATE        requests per second over all threads, paced through
--                    wrk's delay(); 0 or unset: as fast as it goes
--   SOAK_THREADS     wrk's -t (the rate is split between the threads)
--   SOAK_OUT         directory for acked-<run>-<thread>.keys (the key of
--                    every create answered 200) and errors-<run>-<thread>.txt
--                    (the first responses over 399, for the report)
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } soak_timespec;
int clock_gettime(int clk_id, soak_timespec *tp);
]]
local ts = ffi.new("soak_timespec")
local function now_ms()
   ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
   return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local cycle = { "show1", "show2", "list1", "show1", "create1", "config", "show2", "list2", "show1", "edit",
                "create1", "config", "show2", "updates", "list1", "show1", "create2", "config", "list2", "show2" }

local ids, sevs, configs, v1lists, v2lists
local tpl1, tpl2, prefix, count, step, edits, ci, l1, l2, headers, jheaders
local interval, next_t, acked, errors, nerrors

local function template(path)
   local body = bench_read(path)
   assert(body:find("@KEY@", 1, true), "soak: no @KEY@ in " .. path)
   return body
end

init = function(args)
   local inp = assert(os.getenv("SOAK_IN"), "soak: SOAK_IN is not set")
   ids = bench_lines(inp .. "/ids")
   sevs = bench_lines(inp .. "/sevs")
   configs = bench_lines(inp .. "/config.paths")
   v1lists = bench_lines(inp .. "/v1list.paths")
   v2lists = bench_lines(inp .. "/v2list.paths")
   tpl1 = template(inp .. "/create_v1.json")
   tpl2 = template(inp .. "/create_v2.json")
   local t = tid or 1
   math.randomseed(os.time() + t * 1000003)
   local run = os.getenv("SOAK_RUN") or "soak"
   prefix = string.format("%s-%d-", run, t)
   count, step, edits, ci, l1, l2 = 0, (t * 7) % #cycle, 0, t, t, t
   headers = bench_headers()
   jheaders = bench_headers({ ["Content-Type"] = "application/json" })
   local rate = tonumber(os.getenv("SOAK_RATE") or "0") or 0
   local threads = tonumber(os.getenv("SOAK_THREADS") or "1") or 1
   if rate > 0 then interval = 1000 * threads / rate end
   local out = os.getenv("SOAK_OUT")
   if out then
      acked = assert(io.open(string.format("%s/acked-%s-%d.keys", out, run, t), "a"))
      acked:setvbuf("line")
      errors = assert(io.open(string.format("%s/errors-%s-%d.txt", out, run, t), "a"))
      errors:setvbuf("line")
   end
   nerrors = 0
end

local function pick(list, i)
   return list[(i - 1) % #list + 1]
end

request = function()
   step = step % #cycle + 1
   local what = cycle[step]
   local r = math.random(#ids)
   if what == "show1" then
      return wrk.format("GET", "/v1/incidents/" .. ids[r], headers)
   elseif what == "show2" then
      return wrk.format("GET", "/v2/incidents/" .. ids[r], headers)
   elseif what == "list1" then
      l1 = l1 + 1
      return wrk.format("GET", pick(v1lists, l1), headers)
   elseif what == "list2" then
      l2 = l2 + 1
      return wrk.format("GET", pick(v2lists, l2), headers)
   elseif what == "create1" or what == "create2" then
      count = count + 1
      local key = prefix .. count
      if what == "create1" then
         return wrk.format("POST", "/v1/incidents", jheaders, (tpl1:gsub("@KEY@", key)))
      end
      return wrk.format("POST", "/v2/incidents", jheaders, (tpl2:gsub("@KEY@", key)))
   elseif what == "edit" then
      edits = edits + 1
      return wrk.format("POST", "/v2/incidents/" .. ids[r] .. "/actions/edit", jheaders,
                        '{"incident":{"severity_id":"' .. pick(sevs, edits) ..
                        '"},"notify_incident_channel":false}')
   elseif what == "updates" then
      return wrk.format("GET", "/v2/incident_updates?page_size=25", headers)
   end
   ci = ci + 1
   return wrk.format("GET", pick(configs, ci), headers)
end

-- Paced: each thread hands out send times interval ms apart, whichever of
-- its connections asks; a thread that fell behind (a slow spell) catches
-- up by at most a second's worth of requests. Defined only with a rate:
-- wrk then waits on a timer before every request.
if (tonumber(os.getenv("SOAK_RATE") or "0") or 0) > 0 then
   delay = function()
      local now = now_ms()
      if next_t == nil or next_t < now - 1000 then next_t = now end
      next_t = next_t + interval
      local d = next_t - now
      return d > 0 and math.floor(d) or 0
   end
end

-- A create's answer names its key ("soak KEY": only creates answer one
-- incident whose name starts so; shows and edits are of loaded incidents).
response = function(status, headers, body)
   if status == 200 then
      if acked and body:find('^{"incident"%s*:') then
         local key = body:match('"name"%s*:%s*"soak ([%w%-]+)"')
         if key then acked:write(key, "\n") end
      end
   elseif errors and nerrors < 20 then
      nerrors = nerrors + 1
      errors:write(status, " ", body:sub(1, 300), "\n")
   end
end
