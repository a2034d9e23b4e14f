-- Book a slot, then cancel that appointment (cycle.lua).
-- wrk -s book_cancel.lua <url> -- <users file> - "" [cancellation body, JSON]
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path

require("cycle").install({
  create_path = function(user) return "/v1/patients/" .. user.patient_id .. "/appointments" end,
  create_body = function(user) return '{"slot_id": "' .. user.slot_id .. '"}' end,
  cancel_path = function(user, id)
    return "/v1/patients/" .. user.patient_id .. "/appointments/" .. id .. "/cancel"
  end,
  cancel_body = '{"reason_code": "CR1"}',
  location_pattern = "/v1/patients/([^/]+)/appointments/([^/?]+)",
  id_pattern = '"appointment_id"%s*:%s*"([^"]+)"',
})
