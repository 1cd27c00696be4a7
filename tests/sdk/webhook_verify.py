"""The official Standard Webhooks library (PyPI `standardwebhooks`) verifies real deliveries of
mosaic-social, written by the API test `deliveries_for_the_official_python_and_node_libraries`:
each with every secret it lists (two during a rotation), and none with a stranger's secret or a
changed body. Usage: python webhook_verify.py VECTORS.json"""

import base64
import json
import os
import sys

from standardwebhooks.webhooks import Webhook

vectors = json.load(open(sys.argv[1]))
assert len(vectors) == 2, vectors
stranger = "whsec_" + base64.b64encode(os.urandom(32)).decode()
for vector in vectors:
    body, headers = vector["body"], vector["headers"]
    for secret in vector["secrets"]:
        event = Webhook(secret).verify(body, headers)
        assert event["id"] == headers["webhook-id"], event
    for secret, data in [(stranger, body), (vector["secrets"][0], body + " ")]:
        try:
            Webhook(secret).verify(data, headers)
        except Exception:
            continue
        raise AssertionError("a forged delivery verified")
print(f"python standardwebhooks: {len(vectors)} deliveries verified")
