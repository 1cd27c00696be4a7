// The TypeScript client generated from /openapi.json (openapi-typescript types + openapi-fetch)
// against the sandbox. Run by .ci/generated-clients, which generates `schema.d.ts` beside this
// file, type-checks both with `tsc` (strict) and runs the result:
//     node smoke.js SANDBOX_URL API_KEY
// The same steps as tests/clients/python/smoke.py: an immediate and a scheduled post, the
// track, the list, a comment and the post's comments, a retry of a failed post. Every
// answer is checked (status, fields); any mismatch exits non-zero.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type TrackedStatus = components["schemas"]["TrackedStatus"];

const [baseUrl, apiKey] = process.argv.slice(2);
if (baseUrl === undefined || apiKey === undefined) {
  console.error("usage: node smoke.js SANDBOX_URL API_KEY");
  process.exit(2);
}
const client = createClient<paths>({
  baseUrl,
  headers: { Authorization: `Bearer ${apiKey}` },
});

function fail(message: string): never {
  console.error(`typescript client: ${message}`);
  process.exit(1);
}

function expect(what: string, got: unknown, wanted: unknown): void {
  if (JSON.stringify(got) !== JSON.stringify(wanted)) {
    fail(`${what}: got ${JSON.stringify(got)}, wanted ${JSON.stringify(wanted)}`);
  }
}

/** The parsed body of an answer with the given status, or exit. */
function answer<T>(what: string, response: Response, status: number, body: T | undefined): T {
  expect(`${what}: status`, response.status, status);
  if (body === undefined) fail(`${what}: no body`);
  return body;
}

// 1. An immediate post to two platforms.
let r1 = await client.POST("/social/post", {
  body: { post: "generated typescript client: now", platforms: ["x", "linkedin"] },
});
const now = answer("create (now)", r1.response, 200, r1.data);
expect("create (now): tracked_status", now.tracked_status, "posted" satisfies TrackedStatus);
expect("create (now): status", now.status, "success");
expect("create (now): platforms", now.results.map((p) => p.platform), ["x", "linkedin"]);
expect("create (now): results", [...new Set(now.results.map((p) => p.status))], ["success"]);
expect("create (now): links", now.links.length, 2);
const postId = now.post_id;
if (typeof postId !== "string" || postId === "") fail(`create (now): no post_id`);
console.log(`create (now): ${now.tracking_id} posted as ${postId}`);

// 2. A scheduled post, an hour ahead, with a field the document does not name (forwarded).
const when = new Date(Math.floor(Date.now() / 1000) * 1000 + 3600 * 1000)
  .toISOString()
  .replace(".000Z", "Z");
const r2 = await client.POST("/social/post", {
  params: { header: { "Idempotency-Key": "typescript-client-later" } },
  body: {
    post: "generated typescript client: later",
    platforms: ["facebook"],
    schedule_date: when,
    timezone: "Europe/Berlin",
    notes: "an extra key, forwarded to Ayrshare",
  },
});
const later = answer("create (scheduled)", r2.response, 200, r2.data);
expect("create (scheduled): tracked_status", later.tracked_status, "scheduled");
expect("create (scheduled): status", later.status, "scheduled");
console.log(`create (scheduled): ${later.tracking_id} for ${when}`);

// 3. Track it by tracking_id.
const r3 = await client.GET("/social/post/track/{tracking_id}", {
  params: { path: { tracking_id: later.tracking_id } },
});
const record = answer("track", r3.response, 200, r3.data);
expect("track: tracking_id", record.tracking_id, later.tracking_id);
expect("track: tracked_status", record.tracked_status, "scheduled");
expect("track: post", record.post, "generated typescript client: later");
expect("track: platforms", record.platforms, ["facebook"]);
expect("track: schedule_date", record.schedule_date, when);
expect("track: timezone", record.timezone, "Europe/Berlin");
expect("track: idempotency_key", record.idempotency_key, "typescript-client-later");
expect("track: paused", record.paused, false);
expect("track: post_id", record.post_id, later.post_id);
console.log(`track: ${record.tracking_id} ${record.tracked_status}`);

// 4. List: both, newest first; and the status filter.
const r4 = await client.GET("/social/posts", { params: { query: { limit: 2 } } });
const page = answer("list", r4.response, 200, r4.data);
expect("list: tracking ids", page.posts.map((p) => p.tracking_id), [
  later.tracking_id,
  now.tracking_id,
]);
// Two statuses, one parameter: openapi-fetch sends an array as a repeated parameter (a 400).
const r5 = await client.GET("/social/posts", {
  params: { query: { tracked_status: "scheduled,posted", limit: 100 } },
});
const scheduled = answer("list (scheduled,posted)", r5.response, 200, r5.data);
expect(
  "list (scheduled,posted): statuses",
  [...new Set(scheduled.posts.map((p) => p.tracked_status))].sort(),
  ["posted", "scheduled"],
);
for (const id of [later.tracking_id, now.tracking_id]) {
  if (!scheduled.posts.some((p) => p.tracking_id === id)) fail(`list: ${id} is not listed`);
}
const r6 = await client.GET("/social/posts", { params: { query: { limit: 0 } } });
expect("list (limit=0): status", r6.response.status, 400);
expect("list (limit=0): error", r6.error?.error, "validation_error");
console.log(`list: ${scheduled.posts.length} scheduled or posted`);

// 5. Comment on the published post (on x only), then read its comments back.
const commentOn = { params: { path: { post_id: postId } } };
const rc = await client.POST("/social/post/{post_id}/comments", {
  ...commentOn,
  body: { comment: "generated typescript client: a comment", platforms: ["x"] },
});
const written = answer("comment", rc.response, 200, rc.data);
expect("comment: write_status", written.write_status, "done");
expect("comment: operation", written.operation, "comment");
expect("comment: post_id", written.post_id, postId);
expect("comment: tracking_id", written.tracking_id, now.tracking_id);
expect("comment: comment_id", written.comment_id, null);
expect(
  "comment: results",
  written.results.map((w) => [w.platform, w.status]),
  [["x", "success"]],
);
const commentId = written.results[0]?.comment_id;
if (typeof commentId !== "string" || commentId === "") {
  fail(`comment: no comment_id in ${JSON.stringify(written.results)}`);
}
const rl = await client.GET("/social/post/{post_id}/comments", commentOn);
const listed = answer("comments", rl.response, 200, rl.data);
expect("comments: post_id", listed.post_id, postId);
expect("comments: tracking_id", listed.tracking_id, now.tracking_id);
// The simulator lists a comment written through it at once (Ayrshare itself may take minutes).
expect(
  "comments: ids",
  listed.comments.map((c) => [c.comment_id, c.platform]),
  [[commentId, "x"]],
);
expect("comments: text", listed.comments[0]?.text, "generated typescript client: a comment");
expect("comments: replies", [listed.comments[0]?.replies, listed.comments[0]?.replies_omitted], [
  [],
  0,
]);
expect("comments: next_cursor", listed.next_cursor, null);
console.log(`comments: wrote ${commentId} on x, listed it`);

// 6. Retry a failed post: Ayrshare refuses it (the simulator's `duplicate`), every platform failed.
r1 = await client.POST("/social/post", {
  body: { post: "generated typescript client: refused [mock:duplicate]", platforms: ["x"] },
});
expect("create (refused): status", r1.response.status, 400);
const refused = r1.error ?? fail("create (refused): no error body");
expect("create (refused): error", refused.error, "provider_rejected");
expect("create (refused): tracked_status", refused.tracked_status, "failed");
const { post_id: refusedPostId, tracking_id: refusedTrackingId } = refused;
if (typeof refusedPostId !== "string" || refusedTrackingId === undefined) {
  fail(`create (refused): no post_id or tracking_id: ${JSON.stringify(refused)}`);
}
const retry = { params: { path: { post_id: refusedPostId } } };
const r7 = await client.POST("/social/post/{post_id}/retry", retry);
const retried = answer("retry", r7.response, 202, r7.data);
expect("retry: post_id", retried.post_id, refusedPostId);
expect("retry: tracking_id", retried.tracking_id, refusedTrackingId);
expect("retry: tracked_status", retried.tracked_status, "pending");
const r8 = await client.POST("/social/post/{post_id}/retry", retry);
expect("retry (again): status", r8.response.status, 409);
expect("retry (again): error", r8.error?.error, "conflict");
// The simulator publishes the retried post about 5 s later and tells the sandbox by webhook.
const deadline = Date.now() + 30_000;
let settled: TrackedStatus;
for (;;) {
  const r = await client.GET("/social/post/track/{tracking_id}", {
    params: { path: { tracking_id: refusedTrackingId } },
  });
  settled = answer("track (retried)", r.response, 200, r.data).tracked_status;
  if (settled !== "pending" || Date.now() > deadline) break;
  await new Promise((resolve) => setTimeout(resolve, 500));
}
expect("track (retried): tracked_status", settled, "posted");
console.log(`retry: ${refusedTrackingId} failed -> pending -> ${settled}`);
console.log("typescript client: ok");
