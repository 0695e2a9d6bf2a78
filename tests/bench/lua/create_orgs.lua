-- POST /v1/incidents with a new idempotency key on every request, spread
-- over several organisations in turn (tests/bench/scaling.sh: creates of
-- one organisation serialise on its counter row, those of several do not).
-- BENCH_ORGS names a file of lines "<api key> <payload file>", one per
-- organisation (each payload with @KEY@ where the key goes, and that
-- organisation's ids); BENCH_RUN is a prefix unique to this run. Keys are
--   <BENCH_RUN>-<thread number>-<random>-<counter>
-- so no two requests of any run share one.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local orgs, n, prefix, count = {}, 0, nil, 0

init = function(args)
   for _, line in ipairs(bench_lines(os.getenv("BENCH_ORGS"))) do
      local key, file = line:match("^(%S+)%s+(%S+)$")
      assert(key, "bench: bad line in BENCH_ORGS: " .. line)
      local body = bench_read(file)
      local a, b = body:find("@KEY@", 1, true)
      assert(a, "bench: no @KEY@ in " .. file)
      n = n + 1
      orgs[n] = {
         pre = body:sub(1, a - 1),
         post = body:sub(b + 1),
         headers = { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" },
      }
   end
   math.randomseed(os.time() + (tid or 1) * 1000003)
   prefix = string.format("%s-%d-%06d-", os.getenv("BENCH_RUN") or "run", tid or 1,
                          math.random(0, 999999))
end

request = function()
   count = count + 1
   local o = orgs[(count + (tid or 1)) % n + 1]
   return wrk.format("POST", "/v1/incidents", o.headers, o.pre .. prefix .. count .. o.post)
end
