-- GET one path for each signed-in patient in turn.
-- wrk -s read.lua <url> -- <users file> <path, may hold {patient_id}> [anonymous]
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local report = require("report")

local requests = {}
local next_index = 0

function init(args)
  local path, anonymous = args[2], args[3] == "anonymous"
  for line in io.lines(args[1]) do
    local patient_id, token = line:match("^(%S+) (%S+)")
    local headers = {}
    if not anonymous then
      headers["Authorization"] = "Bearer " .. token
    end
    requests[#requests + 1] = wrk.format("GET", path:gsub("{patient_id}", patient_id), headers)
  end
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end

function done(summary, latency, _)
  report.done(summary, latency, 0)
end
