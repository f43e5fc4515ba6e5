-- The API benchmark's readers under wrk (bench/api_load.py, mode `wrk`): one wrk
-- process per endpoint, each connection a reader over its own keep-alive connection.
--
--   wrk -t1 -cN -dDs -s bench/wrk_reader.lua URL -- PATHS TOKEN PACE_MS N POINTS
--
-- PATHS: a file of request paths, one a line, each request drawing one at random.
-- PACE_MS 0: a closed loop (the next request as soon as the answer is read). Else
-- each connection waits before each request: the first a random share of PACE_MS
-- (so the N readers start spread over one period), then PACE_MS +-20 %, so N
-- readers offer N / PACE_MS requests a second in random order. The jitter stays
-- under 1.2 x PACE_MS: for 4 s, under uvicorn's 5-s keep-alive, so a reader's
-- connection is not closed between its requests. wrk times a request from writing
-- it to the whole answer read; a paced reader has nothing else in flight, so what
-- the server makes it wait is all in that time.
-- POINTS: how many quantiles of the latency to print (bench/api_load.py rebuilds
-- the distribution from them), besides the exact p50, p99 and max.

local paths, pace, nconn, points, calls = {}, 0, 1, 100, 0

init = function(args)
  for line in io.lines(args[1]) do
    if line ~= "" then paths[#paths + 1] = line end
  end
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  pace, nconn, points = tonumber(args[3]), tonumber(args[4]), tonumber(args[5])
  math.randomseed(os.time() + nconn + #paths)
end

request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end

delay = function()
  if pace <= 0 then return 0 end
  calls = calls + 1
  if calls <= nconn then return math.random() * pace end
  return pace * (0.8 + 0.4 * math.random())
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d status_errors=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout))
  if summary.requests == 0 then return end
  io.write(string.format("BENCH_EXACT p50=%d p99=%d min=%d max=%d mean=%.1f\n",
    latency:percentile(50), latency:percentile(99), latency.min, latency.max, latency.mean))
  local q = {}
  for k = 1, points do q[#q + 1] = tostring(latency:percentile(100 * (k - 0.5) / points)) end
  io.write("BENCH_QUANTILES " .. table.concat(q, " ") .. "\n")
end
