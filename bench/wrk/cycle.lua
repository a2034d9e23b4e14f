-- Create something for a patient, then cancel it, and again: each patient has one thing
-- of their own (a slot, a course) and creates it again once the cancellation is back.
-- book_cancel.lua and order_cancel.lua say what to create and how to cancel it; use
-- fewer connections than patients.
local report = require("report")

local M = {}

function M.install(spec)
  local by_patient, by_id = {}, {}
  local free, made = {}, {}
  local sent = 0
  local threads = {}
  fallbacks = 0 -- global: read by done() through thread:get

  function setup(thread)
    threads[#threads + 1] = thread
  end

  -- Seeded from the system's entropy, not the clock: two scripts started in the same
  -- second must not send the same Idempotency-Key for the same patient.
  local function entropy()
    local source = assert(io.open("/dev/urandom", "rb"))
    local bytes = source:read(6)
    source:close()
    local n = 0
    for i = 1, #bytes do
      n = n * 256 + bytes:byte(i)
    end
    return n
  end

  -- args: <users file> <path, unused> <anonymous, unused> [cancellation body, JSON: the
  -- practice's own, as one asks for a reason and another takes none]
  function init(args)
    math.randomseed(entropy())
    if args[4] and args[4] ~= "" then
      spec.cancel_body = args[4]
    end
    for line in io.lines(args[1]) do
      local patient_id, token, slot_id, course_id = line:match("^(%S+) (%S+) (%S+) (%S+)")
      local user = { patient_id = patient_id, token = token, slot_id = slot_id,
                     course_id = course_id }
      by_patient[patient_id] = user
      free[#free + 1] = user
    end
  end

  local function headers(user)
    return { ["Authorization"] = "Bearer " .. user.token, ["Content-Type"] = "application/json" }
  end

  function request()
    sent = sent + 1
    if #made > 0 then
      local m = table.remove(made, 1)
      return wrk.format("POST", spec.cancel_path(m.user, m.id), headers(m.user), spec.cancel_body)
    end
    if #free > 0 then
      local user = table.remove(free, 1)
      local h = headers(user)
      h["Idempotency-Key"] = string.format(
        "bench-%d-%d-%d", sent, math.random(1, 1000000000), math.random(1, 1000000000))
      return wrk.format("POST", spec.create_path(user), h, spec.create_body(user))
    end
    -- Every patient busy: should not happen with fewer connections than patients.
    fallbacks = fallbacks + 1
    return wrk.format("GET", "/healthz")
  end

  function response(status, hdrs, body)
    local location = hdrs["location"] or hdrs["Location"]
    if status == 201 and location then
      local patient_id, id = location:match(spec.location_pattern)
      local user = by_patient[patient_id]
      made[#made + 1] = { user = user, id = id }
      by_id[id] = user
    elseif status == 200 then
      local id = body:match(spec.id_pattern)
      local user = id and by_id[id]
      if user then
        by_id[id] = nil
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
end

return M
