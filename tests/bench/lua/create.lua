-- POST /v1/incidents with a new idempotency key on every request.
-- BENCH_BODY names the payload file, with @KEY@ where the key goes;
-- BENCH_RUN is a prefix unique to this run. Keys are
--   <BENCH_RUN>-<thread number>-<random>-<counter>
-- so no two requests of any run share one.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local pre, post, prefix, count, headers

init = function(args)
   local body = bench_read(os.getenv("BENCH_BODY"))
   local a, b = body:find("@KEY@", 1, true)
   assert(a, "bench: no @KEY@ in " .. os.getenv("BENCH_BODY"))
   pre, post = body:sub(1, a - 1), body:sub(b + 1)
   math.randomseed(os.time() + (tid or 1) * 1000003)
   prefix = string.format("%s-%d-%06d-", os.getenv("BENCH_RUN") or "run", tid or 1,
                          math.random(0, 999999))
   count = 0
   headers = bench_headers({ ["Content-Type"] = "application/json" })
end

request = function()
   count = count + 1
   return wrk.format("POST", "/v1/incidents", headers, pre .. prefix .. count .. post)
end
