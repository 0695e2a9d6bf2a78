-- Every scenario in turn, for the worker memory run. BENCH_PATHS is a
-- colon-separated list of path files: the first (show) is cycled through
-- for most requests; the others (list pages: first, deep, status filter)
-- take turns for one request in 16. One in 16 is a create with a new key
-- (BENCH_BODY, @KEY@ as in create.lua) and two are replays (BENCH_REPLAY).
-- Mostly reads, as an API like this one sees, and cheap enough to reach
-- 100 000 requests in about a minute on two cores.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local shows, i, lists, pos, k, pre, post, prefix, count, replay, step, headers

local function requests_of(file)
   local t = {}
   for _, path in ipairs(bench_lines(file)) do
      t[#t + 1] = wrk.format("GET", path, bench_headers())
   end
   return t
end

init = function(args)
   lists, pos = {}, {}
   for file in (os.getenv("BENCH_PATHS") or ""):gmatch("[^:]+") do
      if shows == nil then
         shows = requests_of(file)
      else
         lists[#lists + 1] = requests_of(file)
         pos[#lists] = 0
      end
   end
   assert(shows and #lists > 0, "bench: BENCH_PATHS needs a show file and list files")
   local body = bench_read(os.getenv("BENCH_BODY"))
   local a, b = body:find("@KEY@", 1, true)
   pre, post = body:sub(1, a - 1), body:sub(b + 1)
   math.randomseed(os.time() + (tid or 1) * 1000003)
   prefix = string.format("%s-%d-%06d-", os.getenv("BENCH_RUN") or "mix", tid or 1,
                          math.random(0, 999999))
   count, step, k = 0, 0, 0
   i = ((tid or 1) * 7919) % #shows
   headers = bench_headers({ ["Content-Type"] = "application/json" })
   replay = wrk.format("POST", "/v1/incidents", bench_headers({ ["Content-Type"] = "application/json" }),
                       bench_read(os.getenv("BENCH_REPLAY")))
end

request = function()
   step = step % 16 + 1
   if step == 8 then
      count = count + 1
      return wrk.format("POST", "/v1/incidents", headers, pre .. prefix .. count .. post)
   elseif step == 4 or step == 12 then
      return replay
   elseif step == 16 then
      k = k % #lists + 1
      pos[k] = pos[k] % #lists[k] + 1
      return lists[k][pos[k]]
   end
   i = i % #shows + 1
   return shows[i]
end
