// An example of tests against the shipped mock Ayrshare with Node's own test runner (node:test,
// Node 18+, no package needed); CI runs it (.ci/mock-examples). Copy the `before`/`after` and the
// helpers into your suite and point your Ayrshare client at `baseUrl`.
//
//   MOCK_AYRSHARE_BIN=target/debug/mock-ayrshare node --test tests/mock-examples/
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, beforeEach, test } from "node:test";
import assert from "node:assert/strict";

const START_LINE = "mock ayrshare listening on ";
const API_KEY = "test-key";
let mock;
let baseUrl;

before(async () => {
  mock = spawn(process.env.MOCK_AYRSHARE_BIN || "mock-ayrshare", ["--bind", "127.0.0.1:0", "--api-key", API_KEY], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  // The first line on stdout names the base URL; nothing else is printed there.
  const [line] = await new Promise((resolve, reject) => {
    mock.once("error", reject);
    createInterface({ input: mock.stdout }).once("line", (first) => resolve([first]));
  });
  assert.ok(line.startsWith(START_LINE), `mock-ayrshare did not start: ${line}`);
  baseUrl = line.slice(START_LINE.length).trim();
});

after(() => mock.kill());

async function call(method, path, body, headers = {}) {
  const url = path.startsWith("http") ? path : baseUrl.replace(/\/api$/, "") + path;
  const response = await fetch(url, {
    method,
    headers: { Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: response.status, body: parsed };
}

beforeEach(() => call("POST", "/mock/reset"));

test("a profile created and linked through the linking page can post", async () => {
  const created = await call("POST", "/api/profiles", { title: "acme workspace 1" });
  assert.equal(created.status, 200);
  const key = created.body.profileKey;
  const jwt = await call("POST", "/api/profiles/generateJWT", { domain: "acme", privateKey: "any", profileKey: key });
  // What a person (or a headless browser) does on the page: press the button with id link-twitter.
  const linked = await fetch(jwt.body.url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: "link=twitter",
  });
  assert.equal(linked.status, 200);
  const user = await call("GET", "/api/user", undefined, { "Profile-Key": key });
  assert.deepEqual(user.body.activeSocialAccounts, ["twitter"]);
  const posted = await call("POST", "/api/post", { post: "hi", platforms: ["twitter"] }, { "Profile-Key": key });
  assert.equal(posted.body.status, "success");
});

test("a failed post retried once publishes after the clock is advanced", async () => {
  await call("PUT", "/mock/profiles/team/faults/linkedin", { fault: "expired_token" });
  const failed = await call("POST", "/api/post", { post: "x", platforms: ["linkedin"] }, { "Profile-Key": "team" });
  assert.equal(failed.body.errors[0].code, 161);
  await call("DELETE", "/mock/profiles/team/faults/linkedin");
  const retried = await call("PUT", "/api/post/retry", { id: failed.body.id }, { "Profile-Key": "team" });
  assert.equal(retried.body.postStatus, "pending");
  await call("POST", "/mock/clock", { advance_secs: 5 });
  const read = await call("GET", `/api/post/${failed.body.id}`, undefined, { "Profile-Key": "team" });
  assert.equal(read.body.status, "success");
});

test("a lost comment is kept although its answer never arrives", async () => {
  const post = await call("POST", "/api/post", { post: "p", platforms: ["facebook"] });
  await assert.rejects(call("POST", "/api/comments", { id: post.body.id, comment: "hello [mock:lost:0]" }));
  const comments = await call("GET", `/api/comments/${post.body.id}`);
  assert.equal(comments.body.facebook[0].comment, "hello [mock:lost:0]");
  const journal = await call("GET", "/mock/requests?path=/api/comments");
  assert.equal(journal.body.requests[0].lost, true);
});
