-- POST /v1/incidents with an idempotency key that already exists: every
-- request is a replay (200, Idempotent-Replayed: true). BENCH_BODY names
-- the payload file (the key is in it).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local req

init = function(args)
   req = wrk.format("POST", "/v1/incidents",
                    bench_headers({ ["Content-Type"] = "application/json" }),
                    bench_read(os.getenv("BENCH_BODY")))
end

request = function()
   return req
end
