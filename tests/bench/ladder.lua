-- The ladder's wrk script: POST one JSON body per request and count the answers that are not
-- the expected success (see tests/bench/wrk.py, which runs it).
--
--   wrk ... URL -- BODY_FILE MARKER [SOURCE ARG]
--
-- BODY_FILE holds the request body. MARKER is a string every good answer contains (such as
-- "SubmitApplicationSuccess"). SOURCE fills the body's @VALUE@ placeholder per request:
--   children OFFSET STRIDE  a new child's resident ID number per request: the n-th request
--                           sends child OFFSET + n * STRIDE (parallel runs interleave)
--   list FILE START         the lines of FILE in order, from line START + 1 on (each used once)
-- Run it with one thread (-t1): the request counter is per thread.
-- done() prints "ladder NAME VALUE" lines: requests, sent, wrong, exhausted, p50_us, p99_us,
-- errors and duration_us, then a sample of a wrong answer.

local PLACEHOLDER = "@VALUE@"
local WEIGHTS = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 }
local CHECK = "10X98765432"
local BIRTH_DAYS = 366 -- 2019-09-01 .. 2020-08-31 (2020 is a leap year)
local threads = {}

local function read_file(path)
  local file = assert(io.open(path, "rb"))
  local text = file:read("*a")
  file:close()
  return text
end

-- GB 11643: 17 digits, then the MOD 11-2 check character.
local function national_id(region, birth, sequence)
  local digits = string.format("%s%s%03d", region, birth, sequence)
  local sum = 0
  for i = 1, 17 do
    sum = sum + tonumber(digits:sub(i, i)) * WEIGHTS[i]
  end
  local r = sum % 11 + 1
  return digits .. CHECK:sub(r, r)
end

-- The n-th child: born on one of the season's days, with a 3-digit sequence per day.
local function child_id(n)
  local day = n % BIRTH_DAYS
  local sequence = math.floor(n / BIRTH_DAYS) % 1000
  local born = os.time({ year = 2019, month = 9, day = 1 + day, hour = 12 })
  return national_id("420704", os.date("%Y%m%d", born), sequence)
end

-- The lines of a file after the first ``start`` ones.
local function read_lines(path, start)
  local values, seen = {}, 0
  for line in io.lines(path) do
    seen = seen + 1
    if seen > start then
      values[#values + 1] = line
    end
  end
  return values
end

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  local body = read_file(args[1])
  marker = args[2]
  sent, wrong, exhausted, sample = 0, 0, 0, ""
  local first, last = body:find(PLACEHOLDER, 1, true)
  if first == nil then
    local static = wrk.format("POST", nil, nil, body)
    next_request = function()
      return static
    end
    return
  end
  local prefix, suffix = body:sub(1, first - 1), body:sub(last + 1)
  local value
  if args[3] == "children" then
    local offset, stride = tonumber(args[4]), tonumber(args[5])
    value = function(n)
      return child_id(offset + n * stride)
    end
  elseif args[3] == "list" then
    local values = read_lines(args[4], tonumber(args[5]))
    value = function(n)
      if n >= #values then
        exhausted = exhausted + 1
      end
      return values[n % #values + 1]
    end
  else
    error("unknown value source: " .. tostring(args[3]))
  end
  next_request = function()
    return wrk.format("POST", nil, nil, prefix .. value(sent) .. suffix)
  end
end

function request()
  local text = next_request()
  sent = sent + 1
  return text
end

function response(status, headers, body)
  if status ~= 200 or not body:find(marker, 1, true) then
    wrong = wrong + 1
    if sample == "" then
      sample = status .. " " .. body:sub(1, 300):gsub("\n", " ")
    end
  end
end

function done(summary, latency, requests)
  local totals = { sent = 0, wrong = 0, exhausted = 0 }
  local sample = ""
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + thread:get(name)
    end
    if sample == "" then
      sample = thread:get("sample")
    end
  end
  local errors = summary.errors
  local figures = {
    requests = summary.requests,
    duration_us = summary.duration,
    p50_us = latency:percentile(50),
    p99_us = latency:percentile(99),
    errors = errors.connect + errors.read + errors.write + errors.status + errors.timeout,
    sent = totals.sent,
    wrong = totals.wrong,
    exhausted = totals.exhausted,
  }
  for name, figure in pairs(figures) do
    io.write(string.format("ladder %s %d\n", name, math.floor(figure)))
  end
  io.write("ladder sample " .. sample .. "\n")
end
