-- Shared by the scenario scripts: one machine-readable line for bench/load.py.
local report = {}

function report.done(summary, latency, extra)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
      .. '"non_2xx": %d, "socket_errors": %d, "fallbacks": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout, extra or 0))
end

return report
