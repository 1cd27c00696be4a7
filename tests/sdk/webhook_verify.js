// The official Standard Webhooks library (npm `standardwebhooks`) verifies real deliveries of
// mosaic-social, as webhook_verify.py does. Usage: node webhook_verify.js VECTORS.json
const assert = require("node:assert");
const crypto = require("node:crypto");
const fs = require("node:fs");
const { Webhook } = require("standardwebhooks");

const vectors = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
assert.strictEqual(vectors.length, 2);
const stranger = "whsec_" + crypto.randomBytes(32).toString("base64");
for (const { body, headers, secrets } of vectors) {
  for (const secret of secrets) {
    const event = new Webhook(secret).verify(body, headers);
    assert.strictEqual(event.id, headers["webhook-id"]);
  }
  for (const [secret, data] of [[stranger, body], [secrets[0], body + " "]]) {
    assert.throws(() => new Webhook(secret).verify(data, headers), "a forged delivery verified");
  }
}
console.log(`node standardwebhooks: ${vectors.length} deliveries verified`);
