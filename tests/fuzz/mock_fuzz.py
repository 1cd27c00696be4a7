"""Fuzzes the shipped mock Ayrshare over HTTP with a fixed budget (run by .ci/openapi-check).

Usage: mock_fuzz.py BASE_URL API_KEY  (BASE_URL without /api; FUZZ_EXAMPLES per route, default 150)

The mock has no OpenAPI document of its own (it imitates Ayrshare's API, which publishes none), so
this is a property test in Hypothesis, the engine Schemathesis runs on: every route of the mock
gets arbitrary JSON values, objects with Ayrshare's field names holding arbitrary values, raw
bytes that are not JSON, and arbitrary ids and profile keys. Whatever it sends, the mock must
answer like Ayrshare does: never a 5xx (unless a failure scenario was asked for, which this
never does), always a JSON object, with `content-type: application/json`. A fixed seed keeps the
run the same every time.
"""

import json
import os
import sys

import requests
from hypothesis import HealthCheck, given, settings, strategies as st

BASE, KEY = sys.argv[1].rstrip("/"), sys.argv[2]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
SESSION = requests.Session()
FIELDS = ["post", "platforms", "mediaUrls", "scheduleDate", "id", "ids", "profileKey",
          "requiresApproval", "notes", "scheduledPause", "approved", "markManualDeleted",
          "deleteAll", "action", "url", "secret", "status", "lastDays", "type", "isVideo",
          "idempotencyKey", "shortenLinks", "youTubeOptions", "twitterOptions", "unsplash"]
PLATFORMS = ["twitter", "linkedin", "instagram", "facebook", "tiktok", "youtube", "gmb", "X", ""]

# No marker may pick a failure scenario by accident: `[mock:` is never generated.
safe_text = st.text(max_size=40).filter(lambda t: "[mock" not in t.lower())
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | safe_text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(safe_text, inner, max_size=4),
    max_leaves=12,
)
ayrshare_like = st.dictionaries(
    st.sampled_from(FIELDS),
    json_values | st.lists(st.sampled_from(PLATFORMS), max_size=4) | safe_text,
    max_size=6,
)
bodies = (
    st.builds(lambda v: ("json", v), ayrshare_like)
    | st.builds(lambda v: ("json", v), json_values)
    | st.builds(lambda b: ("raw", b), st.binary(max_size=60))
)
ids = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="/?#%[]"),
              min_size=1, max_size=30)
ROUTES = [
    ("POST", "/api/post"), ("PATCH", "/api/post"), ("PUT", "/api/post"),
    ("DELETE", "/api/post"), ("DELETE", "/api/delete"), ("POST", "/api/analytics/post"),
    ("GET", "/api/post/{id}"), ("GET", "/api/history"), ("GET", "/api/history/{id}"),
    ("POST", "/api/hook/webhook"), ("DELETE", "/api/hook/webhook"), ("GET", "/api/hook/webhook"),
    ("GET", "/mock/stats"), ("PUT", "/mock/profiles/{id}"), ("GET", "/mock/profiles/{id}"),
]


def check(method: str, path: str, response: requests.Response, sent: str) -> None:
    where = f"{method} {path} with {sent!r}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), f"{where}: content-type {content_type!r}"
    body = json.loads(response.text)
    assert isinstance(body, (dict, list)), f"{where}: {response.text[:300]}"


def fuzz(method: str, template: str) -> None:
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(body=bodies, id=ids, profile=st.none() | ids,
           query=st.dictionaries(st.sampled_from(["lastDays", "status", "limit", "id", "x"]), safe_text, max_size=3))
    def run(body, id, profile, query):
        path = template.replace("{id}", requests.utils.quote(id, safe=""))
        headers = {"Authorization": f"Bearer {KEY}"}
        if profile is not None:
            headers["Profile-Key"] = profile
        kind, value = body
        if method == "GET":
            response = SESSION.request(method, BASE + path, headers=headers, params=query, timeout=30)
        elif kind == "json":
            response = SESSION.request(method, BASE + path, headers=headers, json=value, timeout=30)
        else:
            headers["content-type"] = "application/json"
            response = SESSION.request(method, BASE + path, headers=headers, data=value, timeout=30)
        check(method, path, response, value if method != "GET" else query)

    run()


def main() -> None:
    for method, template in ROUTES:
        fuzz(method, template)
        print(f"mock fuzz: {method} {template}: {EXAMPLES} examples, ok")


if __name__ == "__main__":
    main()
