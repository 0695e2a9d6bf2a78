-- Shared by the wrk scripts of tests/bench (loaded with dofile by each).
--
-- Environment (set by tests/bench/run.sh):
--   BENCH_KEY   the API key, sent as "Authorization: Bearer ..."
-- Each thread gets a number (tid) in setup(); done() prints one line
--   BENCH_JSON {...}
-- with the request count, every error class wrk counts (errors.status is
-- the number of responses with a status above 399) and latency
-- percentiles in microseconds; tests/bench/bench.py reads it.

local nthreads = 0

function bench_headers(extra)
   local h = { ["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "") }
   for k, v in pairs(extra or {}) do h[k] = v end
   return h
end

-- The non-empty lines of a file, as a table.
function bench_lines(path)
   local t = {}
   if path == nil or path == "" then
      error("bench: a file name is missing from the environment")
   end
   for line in io.lines(path) do
      if line ~= "" then t[#t + 1] = line end
   end
   if #t == 0 then error("bench: " .. path .. " is empty") end
   return t
end

function bench_read(path)
   local f = assert(io.open(path, "rb"))
   local s = f:read("*a")
   f:close()
   return s
end

setup = function(thread)
   nthreads = nthreads + 1
   thread:set("tid", nthreads)
end

done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
      '"lat_mean_us":%.1f,"lat_max_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency.max,
      latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9)))
end
