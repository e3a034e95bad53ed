-- Requests the paths of a file in turn; each wrk thread starts at its own share of the list, so
-- a cold run does not repeat a URL until the list is used up. A tab after a path gives the
-- If-None-Match value to send. Prints one JSON line (BENCHJSON ...) with the figures.
--   wrk -s bench/wrk/urls.lua ... http://host:port -- FILE THREADS

local threads = {}
local count = 0

function setup(thread)
  thread:set("thread_index", count)
  count = count + 1
  table.insert(threads, thread)
end

local paths, etags, position = {}, {}, 0

function init(args)
  for line in io.lines(args[1]) do
    local path, etag = line:match("^([^\t]+)\t?(.*)$")
    if path then
      paths[#paths + 1] = path
      etags[#etags + 1] = etag
    end
  end
  local share = tonumber(args[2] or "1")
  position = math.floor(#paths * thread_index / share)
end

function request()
  position = position % #paths + 1
  local headers = {}
  if etags[position] ~= "" then
    headers["If-None-Match"] = etags[position]
  end
  return wrk.format("GET", paths[position], headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "errors_connect": %d, "errors_read": %d, "errors_write": %d, ' ..
    '"errors_status": %d, "errors_timeout": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, e.connect, e.read, e.write,
    e.status, e.timeout))
end
