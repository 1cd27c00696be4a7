// Smoke test: the official npm SDK (social-post-api) against the mock Ayrshare server.
//
// Usage:
//   MOCK_AYRSHARE_URL=http://127.0.0.1:8787/api node tests/sdk/node_sdk_smoke.js
//
// Needs `npm install social-post-api@1.1.1` (make it resolvable, e.g. with NODE_PATH pointing at
// that node_modules). Optional env: MOCK_AYRSHARE_API_KEY (default "smoke-test-key"; must match
// the mock's --api-key if it has one) and MOCK_AYRSHARE_PROFILE_KEY.
// Exits 0 when every check passed, 1 otherwise, 2 when it cannot start.
"use strict";

const fs = require("fs");
const Module = require("module");
const path = require("path");

// The SDK keeps its base URL in a module-private const, so the module is compiled with it replaced.
const SDK_BASE_URL = '"https://app.ayrshare.com/api"';

function stop(message) {
  console.log(`node sdk smoke: ${message}`);
  process.exit(2);
}

function loadSdk(base) {
  let file;
  try {
    file = require.resolve("social-post-api");
  } catch (err) {
    stop(`cannot find the sdk (${err.message}); npm install social-post-api@1.1.1`);
  }
  const source = fs.readFileSync(file, "utf8");
  if (!source.includes(SDK_BASE_URL)) {
    stop(`the sdk at ${file} no longer contains ${SDK_BASE_URL}; update this script`);
  }
  const sdk = new Module(file, module);
  sdk.filename = file;
  sdk.paths = Module._nodeModulePaths(path.dirname(file));
  sdk._compile(source.replace(SDK_BASE_URL, JSON.stringify(base)), file);
  return sdk.exports;
}

const API_KEY = process.env.MOCK_AYRSHARE_API_KEY || "smoke-test-key";
const PROFILE_KEY = process.env.MOCK_AYRSHARE_PROFILE_KEY || "node-sdk-smoke";

function baseUrl() {
  return (process.env.MOCK_AYRSHARE_URL || "").trim().replace(/\/+$/, "");
}

let SocialPost;

function clientFor(profileKey) {
  const social = new SocialPost(API_KEY);
  social.headers["Profile-Key"] = profileKey;
  return social;
}

function configuredClient() {
  const base = baseUrl();
  if (!base) stop("set MOCK_AYRSHARE_URL, e.g. http://127.0.0.1:8787/api");
  SocialPost = loadSdk(base);
  return clientFor(PROFILE_KEY);
}

// The mock's own routes (/mock/..., /link/...), which the SDK has no call for.
async function mockRoute(method, path, body) {
  const root = baseUrl().replace(/\/api$/, "");
  const headers = { Authorization: `Bearer ${API_KEY}` };
  let payload;
  if (typeof body === "string") {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const url = path.startsWith("http") ? path : root + path;
  const response = await fetch(url, { method, headers, body: payload, redirect: "manual" });
  return { status: response.status, text: await response.text() };
}

function expect(answer, key, wanted) {
  const got = answer && typeof answer === "object" ? answer[key] : undefined;
  if (JSON.stringify(got) !== JSON.stringify(wanted)) {
    throw new Error(`expected ${key}=${JSON.stringify(wanted)}, got ${JSON.stringify(got)} in ${JSON.stringify(answer)}`);
  }
}

function inDays(days) {
  return new Date(Date.now() + days * 24 * 3600 * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function inOneDay() {
  return inDays(1);
}

// A webhook URL on the discard port of this machine: nothing is ever delivered anywhere else.
const WEBHOOK_URL = "http://127.0.0.1:9/ayrshare-webhook";

async function main() {
  const social = configuredClient();
  const state = {};
  // A run starts from a clean profile, so that the script can run again against the same mock.
  await mockRoute("POST", "/mock/reset", { profile_key: PROFILE_KEY });

  async function setFault(platform, fault) {
    const { status, text } = await mockRoute("PUT", `/mock/profiles/${PROFILE_KEY}/faults/${platform}`, { fault });
    if (status !== 200) throw new Error(`setting the fault answered ${status}: ${text}`);
  }

  const checks = {
    async postNow() {
      const answer = await social.post({ post: "node sdk smoke", platforms: ["twitter", "facebook"] });
      expect(answer, "status", "success");
      expect((answer.postIds || []).map((entry) => entry.platform), ["twitter", "facebook"]);
      if (typeof answer.id !== "string" || answer.id.length !== 20) {
        throw new Error(`expected a 20-character ayrshare id, got ${JSON.stringify(answer)}`);
      }
      state.published = answer;
    },

    // The npm SDK has no getPost: history({ id }) reads GET /history/{id}.
    async readBack() {
      const answer = await social.history({ id: state.published.id });
      expect(answer, "id", state.published.id);
      expect(answer, "status", "success");
      expect(answer, "postIds", state.published.postIds);
    },

    async schedule() {
      const date = inOneDay();
      const answer = await social.post({ post: "node sdk smoke, later", platforms: ["twitter"], scheduleDate: date });
      expect(answer, "status", "scheduled");
      expect(answer, "scheduleDate", date);
      expect(await social.history({ id: answer.id }), "status", "pending");
      state.scheduled = answer;
    },

    async deleteScheduled() {
      const id = state.scheduled.id;
      const answer = await social.delete({ id });
      expect(answer, "status", "success");
      expect(answer, "id", id);
      expect(await social.history({ id }), "status", "deleted");
    },

    async duplicateMarker() {
      const answer = await social.post({ post: "node sdk smoke [mock:duplicate]", platforms: ["twitter", "facebook"] });
      expect(answer, "status", "error");
      expect(answer, "postIds", []);
      expect((answer.errors || []).map((error) => error.code), [110, 107]);
      if (!answer.id) throw new Error(`expected an ayrshare id even on failure, got ${JSON.stringify(answer)}`);
    },

    async historyListsPosts() {
      const answer = await social.history();
      if (!Array.isArray(answer)) throw new Error(`expected an array, got ${JSON.stringify(answer)}`);
      const ids = answer.map((entry) => entry.id);
      if (!ids.includes(state.published.id) || ids.includes(state.scheduled.id)) {
        throw new Error(`expected the published post and not the deleted one, got ids ${JSON.stringify(ids)}`);
      }
    },

    // updatePost sends PUT /post.
    async updateScheduled() {
      const scheduled = await social.post({ post: "node sdk smoke, to move", platforms: ["linkedin"], scheduleDate: inDays(1) });
      expect(scheduled, "status", "scheduled");
      const newDate = inDays(2);
      const answer = await social.updatePost({ id: scheduled.id, scheduleDate: newDate, notes: "moved by the sdk" });
      expect(answer, "status", "success");
      expect(answer, "postStatus", "pending");
      expect(answer, "scheduleDate", newDate);
      const read = await social.history({ id: scheduled.id });
      expect(read, "scheduleDate", newDate);
      expect(read, "notes", "moved by the sdk");
    },

    async updatePublishedIsRefused() {
      const answer = await social.updatePost({ id: state.published.id, notes: "too late" });
      expect(answer, "status", "error");
      expect(answer, "code", 385);
    },

    async analyticsPost() {
      const answer = await social.analyticsPost({ id: state.published.id, platforms: ["twitter", "facebook"] });
      expect(answer, "status", "success");
      const likes = (((answer.twitter || {}).analytics || {}).publicMetrics || {}).likeCount;
      if (!Number.isInteger(likes)) throw new Error(`expected twitter publicMetrics.likeCount, got ${JSON.stringify(answer)}`);
      if (!Number.isInteger(((answer.facebook || {}).analytics || {}).likeCount)) {
        throw new Error(`expected facebook likeCount, got ${JSON.stringify(answer)}`);
      }
    },

    async deletePublished() {
      const created = await social.post({ post: "node sdk smoke, to delete", platforms: ["twitter"] });
      const answer = await social.delete({ id: created.id });
      expect(answer, "status", "success");
      expect(answer.twitter, "action", "delete");
      expect(answer.twitter, "id", created.postIds[0].id);
      expect(await social.delete({ id: created.id }), "code", 383);
    },

    async deleteInstagramRefusedThenMarked() {
      const created = await social.post({ post: "node sdk smoke, instagram", platforms: ["instagram"] });
      const refused = await social.delete({ id: created.id });
      expect(refused, "status", "error");
      expect(refused, "code", 384);
      expect(await social.history({ id: created.id }), "status", "success");
      const marked = await social.delete({ id: created.id, markManualDeleted: true });
      expect(marked, "status", "success");
      expect(await social.history({ id: created.id }), "status", "deleted");
    },

    // The SDK spells it registerWebook.
    async webhooks() {
      const registered = await social.registerWebook({ action: "scheduled", url: WEBHOOK_URL, secret: "smoke" });
      expect(registered, "status", "success");
      const listed = await social.listWebhooks();
      expect(listed, "status", "success");
      const hooks = listed.webhooks || [];
      if (hooks.length !== 1) throw new Error(`expected one webhook, got ${JSON.stringify(listed)}`);
      expect(hooks[0], "action", "scheduled");
      expect(hooks[0], "url", WEBHOOK_URL);
      expect(hooks[0], "signed", true);
      expect(await social.unregisterWebhook({ action: "scheduled" }), "status", "success");
      expect(await social.listWebhooks(), "webhooks", []);
    },
  };

  Object.assign(checks, {
    // The npm SDK's createProfile posts to /profiles/profile.
    async createAndListProfiles() {
      const title = `node sdk smoke ${Date.now()}-${Math.random().toString(16).slice(2, 8)}`;
      const created = await social.createProfile({ title });
      expect(created, "status", "success");
      if (!created.profileKey) throw new Error(`expected a profileKey, got ${JSON.stringify(created)}`);
      expect(await social.createProfile({ title }), "code", 146);
      const listed = await social.getProfiles({ title });
      expect(listed, "count", 1);
      expect(listed.profiles[0], "refId", created.refId);
      if (JSON.stringify(listed).includes(created.profileKey)) throw new Error("GET /profiles showed a profile key");
      state.created = created;
    },

    async linkThroughThePageThenUserAndUnlink() {
      const key = state.created.profileKey;
      const jwt = await social.generateJWT({ domain: "smoke", privateKey: "any", profileKey: key });
      expect(jwt, "status", "success");
      const page = await mockRoute("GET", jwt.url);
      if (page.status !== 200 || !page.text.includes('id="link-instagram"')) {
        throw new Error(`the linking page answered ${page.status}`);
      }
      expect(await mockRoute("POST", jwt.url, "link=instagram"), "status", 200);
      const owner = clientFor(key);
      expect(await owner.user(), "activeSocialAccounts", ["instagram"]);
      // The SDK wants profileKey in the body; the mock, like Ayrshare, reads the header.
      expect(await owner.unlinkSocial({ profileKey: key, platform: "instagram" }), "status", "success");
      expect(await owner.user(), "activeSocialAccounts", []);
    },

    async faultsFailTheirPlatform() {
      const wanted = { not_linked: 156, rate_limited: 435, expired_token: 161 };
      for (const [fault, code] of Object.entries(wanted)) {
        await setFault("facebook", fault);
        const answer = await social.post({ post: `node sdk smoke, ${fault}`, platforms: ["twitter", "facebook"] });
        expect(answer, "status", "error");
        expect(answer.errors[0], "code", code);
        expect(answer.postIds[0], "platform", "twitter");
      }
      await setFault("facebook", "suspended");
      expect(await social.post({ post: "suspended", platforms: ["facebook"] }), "code", 403);
      await mockRoute("DELETE", `/mock/profiles/${PROFILE_KEY}/faults/facebook`);
      expect(await social.post({ post: "cleared", platforms: ["facebook"] }), "status", "success");
    },

    // getComments sends GET /comments?id=…; the npm SDK has no reply or delete.
    async comments() {
      const id = state.published.id;
      const added = await social.postComment({ id, comment: "node sdk comment", platforms: ["twitter"] });
      expect(added.twitter, "status", "success");
      const listed = await social.getComments({ id });
      expect(listed.twitter[0], "comment", "node sdk comment");
      expect(listed, "facebook", []);
      const refused = await social.postComment({ id, comment: "x", platforms: ["threads"] });
      expect(refused.errors[0], "code", 389);
    },

    async lostAnswerKeepsThePost() {
      const answer = await social.post({ post: "node sdk smoke [mock:lost:0]", platforms: ["twitter"] });
      if (!(answer instanceof Error)) throw new Error(`expected a dropped connection, got ${JSON.stringify(answer)}`);
      const texts = (await social.history()).map((entry) => entry.post);
      if (!texts.includes("node sdk smoke [mock:lost:0]")) throw new Error(`the lost post is not in the history: ${JSON.stringify(texts)}`);
    },

    async journalShowsWhatTheSdkSent() {
      const { status, text } = await mockRoute("GET", `/mock/requests?profile_key=${PROFILE_KEY}&path=/api/post`);
      const journal = JSON.parse(text);
      if (status !== 200 || journal.requests.length === 0) throw new Error(`the journal answered ${status}`);
      expect(journal.requests[0].headers, "authorization", "[masked]");
      expect(JSON.parse(journal.requests[0].body), "source", "npm");
    },
  });

  let failed = 0;
  for (const [name, check] of Object.entries(checks)) {
    try {
      await check();
      console.log(`ok   ${name}`);
    } catch (err) {
      failed += 1;
      console.log(`FAIL ${name}: ${err && err.message ? err.message : err}`);
    }
  }
  const total = Object.keys(checks).length;
  console.log(`node sdk smoke: ${total - failed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.log(`node sdk smoke: crashed: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
