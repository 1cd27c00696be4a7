-- POST $BENCH_BODY to /social/post with the one Idempotency-Key $BENCH_IDEMPOTENCY_KEY, which
-- an earlier request already used: every request is answered by the replay of that answer.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "POST"
wrk.path = "/social/post"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers = bench_headers()
wrk.headers["Idempotency-Key"] = os.getenv("BENCH_IDEMPOTENCY_KEY")
