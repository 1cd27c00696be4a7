-- GET one of the paths in $BENCH_PATHS (one a line), picked at random for each request: the
-- growth benchmark's track of a random record of one organization, and its fixed list calls
-- (a file of one line). The summary is common.lua's.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local paths = {}

function init(args)
  for line in io.lines(os.getenv("BENCH_PATHS")) do
    if line ~= "" then table.insert(paths, line) end
  end
  math.randomseed(os.time() + thread_id)
  wrk.headers = bench_headers()
  wrk.headers["Content-Type"] = nil
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
