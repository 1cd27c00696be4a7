"""Smoke test: the official Python SDK (PyPI social-post-api) against the mock Ayrshare server.

Usage:
    MOCK_AYRSHARE_URL=http://127.0.0.1:8787/api python tests/sdk/python_sdk_smoke.py

Needs `pip install social-post-api==1.3.0`. Optional env: MOCK_AYRSHARE_API_KEY (default
"smoke-test-key"; must match the mock's --api-key if it has one) and MOCK_AYRSHARE_PROFILE_KEY.
Exits 0 when every check passed, 1 otherwise, 2 when it cannot start.
"""

import datetime
import os
import sys

try:
    import ayrshare.ayrshare as sdk_module
    from ayrshare import SocialPost
except ImportError as err:
    print(f"python sdk smoke: cannot import the sdk ({err}); pip install social-post-api==1.3.0")
    sys.exit(2)


def configured_client():
    base = os.environ.get("MOCK_AYRSHARE_URL", "").strip()
    if not base:
        print("python sdk smoke: set MOCK_AYRSHARE_URL, e.g. http://127.0.0.1:8787/api")
        sys.exit(2)
    # The SDK builds URLs as base + "post", so the base needs its trailing slash.
    sdk_module.base = base.rstrip("/") + "/"
    api_key = os.environ.get("MOCK_AYRSHARE_API_KEY", "smoke-test-key")
    profile_key = os.environ.get("MOCK_AYRSHARE_PROFILE_KEY", "python-sdk-smoke")
    return SocialPost(api_key).setProfileKey(profile_key)


def expect(answer, key, wanted):
    got = answer.get(key) if isinstance(answer, dict) else None
    if got != wanted:
        raise AssertionError(f"expected {key}={wanted!r}, got {got!r} in {answer!r}")


def in_days(days):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def in_one_day():
    return in_days(1)


# A webhook URL on the discard port of this machine: nothing is ever delivered anywhere else.
WEBHOOK_URL = "http://127.0.0.1:9/ayrshare-webhook"


def main():
    social = configured_client()
    state = {}

    def post_now():
        answer = social.post({"post": "python sdk smoke", "platforms": ["twitter", "facebook"]})
        expect(answer, "status", "success")
        platforms = [entry.get("platform") for entry in answer.get("postIds", [])]
        if platforms != ["twitter", "facebook"]:
            raise AssertionError(f"expected postIds for twitter and facebook, got {answer!r}")
        if len(answer.get("id", "")) != 20:
            raise AssertionError(f"expected a 20-character ayrshare id, got {answer!r}")
        state["published"] = answer

    def read_back():
        published = state["published"]
        answer = social.getPost({"id": published["id"]})
        expect(answer, "id", published["id"])
        expect(answer, "status", "success")
        expect(answer, "postIds", published["postIds"])

    def schedule():
        date = in_one_day()
        answer = social.post({"post": "python sdk smoke, later", "platforms": ["twitter"], "scheduleDate": date})
        expect(answer, "status", "scheduled")
        expect(answer, "scheduleDate", date)
        expect(social.getPost({"id": answer["id"]}), "status", "pending")
        state["scheduled"] = answer

    def delete_scheduled():
        scheduled_id = state["scheduled"]["id"]
        answer = social.delete({"id": scheduled_id})
        expect(answer, "status", "success")
        expect(answer, "id", scheduled_id)
        expect(social.getPost({"id": scheduled_id}), "status", "deleted")

    def duplicate_marker():
        answer = social.post({"post": "python sdk smoke [mock:duplicate]", "platforms": ["twitter", "facebook"]})
        expect(answer, "status", "error")
        expect(answer, "postIds", [])
        codes = [error.get("code") for error in answer.get("errors", [])]
        if codes != [110, 107]:
            raise AssertionError(f"expected duplicate codes [110, 107], got {answer!r}")
        if not answer.get("id"):
            raise AssertionError(f"expected an ayrshare id even on failure, got {answer!r}")

    def history_lists_posts():
        answer = social.history()
        if not isinstance(answer, list):
            raise AssertionError(f"expected a list, got {answer!r}")
        ids = [entry.get("id") for entry in answer]
        if state["published"]["id"] not in ids or state["scheduled"]["id"] in ids:
            raise AssertionError(f"expected the published post and not the deleted one, got ids {ids!r}")

    def update_scheduled():
        scheduled = social.post({"post": "python sdk smoke, to move", "platforms": ["linkedin"], "scheduleDate": in_days(1)})
        expect(scheduled, "status", "scheduled")
        new_date = in_days(2)
        answer = social.updatePost({"id": scheduled["id"], "scheduleDate": new_date, "notes": "moved by the sdk"})
        expect(answer, "status", "success")
        expect(answer, "postStatus", "pending")
        expect(answer, "scheduleDate", new_date)
        read = social.getPost({"id": scheduled["id"]})
        expect(read, "scheduleDate", new_date)
        expect(read, "notes", "moved by the sdk")

    def update_published_is_refused():
        answer = social.updatePost({"id": state["published"]["id"], "notes": "too late"})
        expect(answer, "status", "error")
        expect(answer, "code", 385)

    def analytics_post():
        answer = social.analyticsPost({"id": state["published"]["id"], "platforms": ["twitter", "facebook"]})
        expect(answer, "status", "success")
        likes = answer.get("twitter", {}).get("analytics", {}).get("publicMetrics", {}).get("likeCount")
        if not isinstance(likes, int):
            raise AssertionError(f"expected twitter publicMetrics.likeCount, got {answer!r}")
        if not isinstance(answer.get("facebook", {}).get("analytics", {}).get("likeCount"), int):
            raise AssertionError(f"expected facebook likeCount, got {answer!r}")

    def delete_published():
        created = social.post({"post": "python sdk smoke, to delete", "platforms": ["twitter"]})
        answer = social.delete({"id": created["id"]})
        expect(answer, "status", "success")
        expect(answer.get("twitter", {}), "action", "delete")
        expect(answer.get("twitter", {}), "id", created["postIds"][0]["id"])
        expect(social.delete({"id": created["id"]}), "code", 383)

    def delete_instagram_refused_then_marked():
        created = social.post({"post": "python sdk smoke, instagram", "platforms": ["instagram"]})
        refused = social.delete({"id": created["id"]})
        expect(refused, "status", "error")
        expect(refused, "code", 384)
        expect(social.getPost({"id": created["id"]}), "status", "success")
        marked = social.delete({"id": created["id"], "markManualDeleted": True})
        expect(marked, "status", "success")
        expect(social.getPost({"id": created["id"]}), "status", "deleted")

    def webhooks():
        registered = social.registerWebhook({"action": "scheduled", "url": WEBHOOK_URL, "secret": "smoke"})
        expect(registered, "status", "success")
        listed = social.listWebhooks()
        expect(listed, "webhooks", [{"action": "scheduled", "url": WEBHOOK_URL, "signed": True}])
        expect(social.unregisterWebhook({"action": "scheduled"}), "status", "success")
        expect(social.listWebhooks(), "webhooks", [])

    checks = [
        post_now,
        read_back,
        schedule,
        delete_scheduled,
        duplicate_marker,
        history_lists_posts,
        update_scheduled,
        update_published_is_refused,
        analytics_post,
        delete_published,
        delete_instagram_refused_then_marked,
        webhooks,
    ]
    failed = 0
    for check in checks:
        try:
            check()
            print(f"ok   {check.__name__}")
        except Exception as err:  # every failure is reported, not only assertion errors
            failed += 1
            print(f"FAIL {check.__name__}: {type(err).__name__}: {err}")
    print(f"python sdk smoke: {len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
