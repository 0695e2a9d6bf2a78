-- GET scenarios (show, list first page, list deep page, list with a status
-- filter): BENCH_PATHS names a file of request paths, one per line; each
-- thread cycles through them from its own starting point, so the ids asked
-- for are the same set pgbench's scripts use.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local reqs, n, i = {}, 0, 0

init = function(args)
   for _, path in ipairs(bench_lines(os.getenv("BENCH_PATHS"))) do
      n = n + 1
      reqs[n] = wrk.format("GET", path, bench_headers())
   end
   i = ((tid or 1) * 7919) % n
end

request = function()
   i = i % n + 1
   return reqs[i]
end
