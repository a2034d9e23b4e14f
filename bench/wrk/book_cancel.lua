-- Book a slot, then cancel that appointment: each patient has a slot of their own and
-- books it again once the cancellation is back. Use fewer connections than patients.
-- wrk -s book_cancel.lua <url> -- <users file>
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local report = require("report")

local by_patient, by_appointment = {}, {}
local free, booked = {}, {}
local sent = 0
fallbacks = 0 -- global: read by done() through thread:get
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  math.randomseed(os.time())
  for line in io.lines(args[1]) do
    local patient_id, token, slot_id = line:match("^(%S+) (%S+) (%S+)")
    local user = { patient_id = patient_id, token = token, slot_id = slot_id }
    by_patient[patient_id] = user
    free[#free + 1] = user
  end
end

local function headers(user)
  return { ["Authorization"] = "Bearer " .. user.token, ["Content-Type"] = "application/json" }
end

function request()
  sent = sent + 1
  if #booked > 0 then
    local b = table.remove(booked, 1)
    return wrk.format("POST",
      "/v1/patients/" .. b.user.patient_id .. "/appointments/" .. b.appointment_id .. "/cancel",
      headers(b.user), '{"reason_code": "CR1"}')
  end
  if #free > 0 then
    local user = table.remove(free, 1)
    local h = headers(user)
    h["Idempotency-Key"] = string.format("bench-%d-%d", sent, math.random(1, 1000000000))
    return wrk.format("POST", "/v1/patients/" .. user.patient_id .. "/appointments", h,
      '{"slot_id": "' .. user.slot_id .. '"}')
  end
  -- Every patient busy: should not happen with fewer connections than patients.
  fallbacks = fallbacks + 1
  return wrk.format("GET", "/healthz")
end

function response(status, hdrs, body)
  local location = hdrs["location"] or hdrs["Location"]
  if status == 201 and location then
    local patient_id, appointment_id = location:match("/v1/patients/([^/]+)/appointments/([^/?]+)")
    local user = by_patient[patient_id]
    booked[#booked + 1] = { user = user, appointment_id = appointment_id }
    by_appointment[appointment_id] = user
  elseif status == 200 then
    local appointment_id = body:match('"appointment_id"%s*:%s*"([^"]+)"')
    local user = appointment_id and by_appointment[appointment_id]
    if user then
      by_appointment[appointment_id] = nil
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
