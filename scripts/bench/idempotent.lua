-- POST $BENCH_BODY to /social/post with an Idempotency-Key of its own on every request:
-- $BENCH_RUN, the wrk thread and a counter.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local body = os.getenv("BENCH_BODY")
local prefix = os.getenv("BENCH_RUN")
local headers = bench_headers()
local counter = 0

function request()
  counter = counter + 1
  headers["Idempotency-Key"] = string.format("%s-%d-%d", prefix, thread_id, counter)
  return wrk.format("POST", "/social/post", headers, body)
end
