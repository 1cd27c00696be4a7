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

function configuredClient() {
  const base = (process.env.MOCK_AYRSHARE_URL || "").trim().replace(/\/+$/, "");
  if (!base) stop("set MOCK_AYRSHARE_URL, e.g. http://127.0.0.1:8787/api");
  const SocialPost = loadSdk(base);
  const social = new SocialPost(process.env.MOCK_AYRSHARE_API_KEY || "smoke-test-key");
  social.headers["Profile-Key"] = process.env.MOCK_AYRSHARE_PROFILE_KEY || "node-sdk-smoke";
  return social;
}

function expect(answer, key, wanted) {
  const got = answer && typeof answer === "object" ? answer[key] : undefined;
  if (JSON.stringify(got) !== JSON.stringify(wanted)) {
    throw new Error(`expected ${key}=${JSON.stringify(wanted)}, got ${JSON.stringify(got)} in ${JSON.stringify(answer)}`);
  }
}

function inOneDay() {
  return new Date(Date.now() + 24 * 3600 * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

async function main() {
  const social = configuredClient();
  const state = {};

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
  };

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
