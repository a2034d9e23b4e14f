-- Order a repeat, then cancel that request (cycle.lua). The load-test practice asks for a
-- note with every request.
-- wrk -s order_cancel.lua <url> -- <users file>
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path

require("cycle").install({
  create_path = function(user)
    return "/v1/patients/" .. user.patient_id .. "/prescriptions/requests"
  end,
  create_body = function(user)
    return '{"course_ids": ["' .. user.course_id .. '"], "note": "No changes since my last request"}'
  end,
  cancel_path = function(user, id)
    return "/v1/patients/" .. user.patient_id .. "/prescriptions/requests/" .. id .. "/cancel"
  end,
  cancel_body = nil,
  location_pattern = "/v1/patients/([^/]+)/prescriptions/requests/([^/?]+)",
  id_pattern = '"request_id"%s*:%s*"([^"]+)"',
})
