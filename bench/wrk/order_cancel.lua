-- Order a repeat, then cancel that request: each patient has a course of their own and
-- orders it again once the cancellation is back. Use fewer connections than patients.
-- wrk -s order_cancel.lua <url> -- <users file>
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local report = require("report")

local by_patient, by_request = {}, {}
local free, ordered = {}, {}
local sent = 0
fallbacks = 0 -- global: read by done() through thread:get
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  math.randomseed(os.time())
  for line in io.lines(args[1]) do
    local patient_id, token, _, course_id = line:match("^(%S+) (%S+) (%S+) (%S+)")
    local user = { patient_id = patient_id, token = token, course_id = course_id }
    by_patient[patient_id] = user
    free[#free + 1] = user
  end
end

local function headers(user)
  return { ["Authorization"] = "Bearer " .. user.token, ["Content-Type"] = "application/json" }
end

function request()
  sent = sent + 1
  if #ordered > 0 then
    local o = table.remove(ordered, 1)
    return wrk.format("POST",
      "/v1/patients/" .. o.user.patient_id .. "/prescriptions/requests/" .. o.request_id .. "/cancel",
      headers(o.user))
  end
  if #free > 0 then
    local user = table.remove(free, 1)
    local h = headers(user)
    h["Idempotency-Key"] = string.format("bench-%d-%d", sent, math.random(1, 1000000000))
    return wrk.format("POST", "/v1/patients/" .. user.patient_id .. "/prescriptions/requests", h,
      '{"course_ids": ["' .. user.course_id .. '"], "note": "No changes since my last request"}')
  end
  -- Every patient busy: should not happen with fewer connections than patients.
  fallbacks = fallbacks + 1
  return wrk.format("GET", "/healthz")
end

function response(status, hdrs, body)
  local location = hdrs["location"] or hdrs["Location"]
  if status == 201 and location then
    local patient_id, request_id =
      location:match("/v1/patients/([^/]+)/prescriptions/requests/([^/?]+)")
    local user = by_patient[patient_id]
    ordered[#ordered + 1] = { user = user, request_id = request_id }
    by_request[request_id] = user
  elseif status == 200 then
    local request_id = body:match('"request_id"%s*:%s*"([^"]+)"')
    local user = request_id and by_request[request_id]
    if user then
      by_request[request_id] = nil
      free[#free + 1] = user
    end
  end
end

function done(summary, latency, _)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("fallbacks") or 0)
  end
  report.done(summary, latency, total)
end
