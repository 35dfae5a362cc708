-- wrk: POST a JSON complaint, cycling through realistic bodies written by bench/api.py.
-- Usage: wrk -s bench/post.lua URL -- BODIES_FILE [AUTHORIZATION_HEADER_VALUE]
local bodies = {}
local token = nil
local counter = 0

function init(args)
  local file = io.open(args[1], "r")
  for line in file:lines() do
    bodies[#bodies + 1] = line
  end
  file:close()
  token = args[2]
end

function request()
  counter = counter + 1
  local headers = {["Content-Type"] = "application/json"}
  if token and token ~= "" then
    headers["Authorization"] = token
  end
  return wrk.format("POST", nil, headers, bodies[(counter % #bodies) + 1])
end
