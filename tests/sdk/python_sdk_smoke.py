"""Smoke test: the official Python SDK (PyPI social-post-api) against the mock Ayrshare server.

Usage:
    MOCK_AYRSHARE_URL=http://127.0.0.1:8787/api python tests/sdk/python_sdk_smoke.py

Needs `pip install social-post-api==1.3.0`. Optional env: MOCK_AYRSHARE_API_KEY (default
"smoke-test-key"; must match the mock's --api-key if it has one) and MOCK_AYRSHARE_PROFILE_KEY.
Exits 0 when every check passed, 1 otherwise, 2 when it cannot start.
"""

import datetime
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

try:
    import ayrshare.ayrshare as sdk_module
    from ayrshare import SocialPost
except ImportError as err:
    print(f"python sdk smoke: cannot import the sdk ({err}); pip install social-post-api==1.3.0")
    sys.exit(2)


def base_url():
    return os.environ.get("MOCK_AYRSHARE_URL", "").strip().rstrip("/")


def mock_route(method, path, body=None, profile_key=None):
    """The mock's own routes (/mock/..., /link/...), which the SDK has no call for."""
    root = base_url()[: -len("/api")] if base_url().endswith("/api") else base_url()
    data = None
    headers = {"Authorization": "Bearer " + os.environ.get("MOCK_AYRSHARE_API_KEY", "smoke-test-key")}
    if profile_key:
        headers["Profile-Key"] = profile_key
    if isinstance(body, dict):
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    elif isinstance(body, str):
        data = body.encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    url = path if path.startswith("http") else root + path

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def configured_client():
    base = os.environ.get("MOCK_AYRSHARE_URL", "").strip()
    if not base:
        print("python sdk smoke: set MOCK_AYRSHARE_URL, e.g. http://127.0.0.1:8787/api")
        sys.exit(2)
    # The SDK builds URLs as base + "post", so the base needs its trailing slash.
    sdk_module.base = base.rstrip("/") + "/"
    api_key = os.environ.get("MOCK_AYRSHARE_API_KEY", "smoke-test-key")
    profile_key = os.environ.get("MOCK_AYRSHARE_PROFILE_KEY", "python-sdk-smoke")
    return SocialPost(api_key).setProfileKey(profile_key), profile_key


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
    social, profile_key = configured_client()
    state = {}
    # A run starts from a clean profile, so that the script can run again against the same mock.
    mock_route("POST", "/mock/reset", {"profile_key": profile_key})

    def client_for(key):
        return SocialPost(os.environ.get("MOCK_AYRSHARE_API_KEY", "smoke-test-key")).setProfileKey(key)

    def set_fault(platform, fault):
        status, text = mock_route("PUT", f"/mock/profiles/{profile_key}/faults/{platform}", {"fault": fault})
        if status != 200:
            raise AssertionError(f"setting the fault answered {status}: {text}")

    def clear_fault(platform):
        mock_route("DELETE", f"/mock/profiles/{profile_key}/faults/{platform}")

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

    def create_and_list_profiles():
        title = "python sdk smoke " + uuid.uuid4().hex[:8]
        created = social.createProfile({"title": title})
        expect(created, "status", "success")
        if not created.get("profileKey"):
            raise AssertionError(f"expected a profileKey, got {created!r}")
        expect(social.createProfile({"title": title}), "code", 146)
        listed = social.getProfiles({"title": title})
        expect(listed, "count", 1)
        profile = listed["profiles"][0]
        expect(profile, "refId", created["refId"])
        expect(profile, "activeSocialAccounts", [])
        if created["profileKey"] in json.dumps(listed):
            raise AssertionError("GET /profiles showed a profile key")
        state["created"] = created

    def link_through_the_page_then_user_and_unlink():
        key = state["created"]["profileKey"]
        jwt = social.generateJWT({"domain": "smoke", "privateKey": "any", "profileKey": key})
        expect(jwt, "status", "success")
        status, page = mock_route("GET", jwt["url"])
        if status != 200 or 'id="link-twitter"' not in page:
            raise AssertionError(f"the linking page answered {status}: {page[:200]}")
        status, _ = mock_route("POST", jwt["url"], "link=twitter")
        if status != 200:
            raise AssertionError(f"linking answered {status}")
        owner = client_for(key)
        expect(owner.user(), "activeSocialAccounts", ["twitter"])
        expect(owner.unlinkSocial({"platform": "twitter"}), "status", "success")
        expect(owner.user(), "activeSocialAccounts", [])
        expect(owner.post({"post": "not linked", "platforms": ["twitter"]})["errors"][0], "code", 156)

    def faults_fail_their_platform():
        wanted = {"not_linked": 156, "rate_limited": 435, "expired_token": 272}
        for fault, code in wanted.items():
            set_fault("twitter", fault)
            answer = social.post({"post": f"python sdk smoke, {fault}", "platforms": ["twitter", "facebook"]})
            expect(answer, "status", "error")
            expect(answer["errors"][0], "code", code)
            expect(answer["postIds"][0], "platform", "facebook")
        set_fault("twitter", "suspended")
        expect(social.post({"post": "suspended", "platforms": ["twitter"]}), "code", 403)
        clear_fault("twitter")
        expect(social.post({"post": "cleared", "platforms": ["twitter"]}), "status", "success")

    def retry_a_failed_post():
        set_fault("linkedin", "expired_token")
        failed = social.post({"post": "python sdk smoke, retry", "platforms": ["linkedin"]})
        expect(failed, "status", "error")
        clear_fault("linkedin")
        expect(social.retryPost({"id": failed["id"]}), "postStatus", "pending")
        expect(social.retryPost({"id": failed["id"]}), "code", 387)
        mock_route("POST", "/mock/clock", {"advance_secs": 5})
        expect(social.getPost({"id": failed["id"]}), "status", "success")

    def comments():
        post_id = state["published"]["id"]
        added = social.postComment({"id": post_id, "comment": "python sdk comment", "platforms": ["twitter"]})
        expect(added.get("twitter", {}), "status", "success")
        status, seeded = mock_route(
            "POST", f"/mock/comments/{post_id}", {"platform": "facebook", "comment": "from a fan"}, profile_key
        )
        if status != 200:
            raise AssertionError(f"seeding answered {status}: {seeded}")
        listed = social.getComments({"id": post_id})
        expect(listed["twitter"][0], "comment", "python sdk comment")
        fan = listed["facebook"][0]
        reply = social.replyComment({"commentId": fan["commentId"], "comment": "thanks", "platforms": ["facebook"]})
        expect(reply.get("facebook", {}), "status", "success")
        expect(social.getComments({"id": post_id})["facebook"][0]["replies"][0], "comment", "thanks")
        expect(social.postComment({"id": post_id, "comment": "x", "platforms": ["threads"]})["errors"][0], "code", 389)
        deleted = social.deleteComments({"id": post_id})
        expect(deleted, "status", "success")
        expect(social.getComments({"id": post_id}), "twitter", [])

    def lost_answer_keeps_the_post():
        import requests

        try:
            social.post({"post": "python sdk smoke [mock:lost:0]", "platforms": ["twitter"]})
        except requests.exceptions.ConnectionError:
            pass
        else:
            raise AssertionError("expected the connection to be dropped")
        texts = [entry.get("post") for entry in social.history()]
        if "python sdk smoke [mock:lost:0]" not in texts:
            raise AssertionError(f"the lost post is not in the history: {texts!r}")

    def journal_shows_what_the_sdk_sent():
        status, text = mock_route("GET", f"/mock/requests?profile_key={profile_key}&path=/api/post")
        journal = json.loads(text)
        if status != 200 or not journal["requests"]:
            raise AssertionError(f"the journal answered {status}: {text[:200]}")
        first = journal["requests"][0]
        expect(first["headers"], "authorization", "[masked]")
        expect(json.loads(first["body"]), "source", "pypi")

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
        create_and_list_profiles,
        link_through_the_page_then_user_and_unlink,
        faults_fail_their_platform,
        retry_a_failed_post,
        comments,
        lost_answer_keeps_the_post,
        journal_shows_what_the_sdk_sent,
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
