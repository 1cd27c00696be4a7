-- GET $BENCH_PATH (the tracking record of one earlier request).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "GET"
wrk.path = os.getenv("BENCH_PATH")
wrk.headers = bench_headers()
wrk.headers["Content-Type"] = nil
