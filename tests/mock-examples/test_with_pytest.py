"""Examples of tests written against the mock with the fixture in conftest.py (CI runs them:
.ci/mock-examples). Replace the direct calls with your own Ayrshare client pointed at
mock.base_url."""

import datetime
import http.client
import json
import urllib.parse


def in_one_hour():
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_scheduled_post_is_published_when_the_clock_is_advanced(mock):
    status, created = mock.call(
        "POST", "/api/post", {"post": "later", "platforms": ["twitter"], "scheduleDate": in_one_hour()}
    )
    assert status == 200 and created["status"] == "scheduled"

    moved = mock.advance(3600)

    assert moved["published"] == [created["id"]]
    assert mock.call("GET", f"/api/post/{created['id']}")[1]["status"] == "success"


def test_a_fault_stays_until_cleared(mock):
    mock.set_fault("team-a", "twitter", "expired_token")
    for _ in range(2):
        status, answer = mock.call("POST", "/api/post", {"post": "x", "platforms": ["twitter"]}, profile_key="team-a")
        assert status == 400 and answer["errors"][0]["code"] == 272
    mock.clear_fault("team-a", "twitter")
    assert mock.call("POST", "/api/post", {"post": "x", "platforms": ["twitter"]}, profile_key="team-a")[0] == 200


def test_a_lost_answer_leaves_the_post_published(mock):
    url = urllib.parse.urlsplit(mock.base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    body = json.dumps({"post": "did it go out? [mock:lost:0]", "platforms": ["twitter"]})
    connection.request("POST", "/api/post", body, {"Authorization": f"Bearer {mock.api_key}", "Content-Type": "application/json"})
    try:
        connection.getresponse()
        raise AssertionError("a lost answer never arrives")
    except (http.client.RemoteDisconnected, ConnectionError):
        pass

    history = mock.call("GET", "/api/history")[1]
    assert [post["post"] for post in history] == ["did it go out? [mock:lost:0]"]


def test_the_journal_shows_what_was_sent_with_secrets_masked(mock):
    mock.call("POST", "/api/post", {"post": "journaled", "platforms": ["bluesky"]}, profile_key="secret-key")

    sent = mock.requests(path="/api/post")

    assert len(sent) == 1
    assert json.loads(sent[0]["body"]) == {"post": "journaled", "platforms": ["bluesky"]}
    assert sent[0]["headers"]["profile-key"] == "[masked]"
    assert sent[0]["status"] == 200


def test_each_test_starts_from_an_empty_mock(mock):
    assert mock.call("GET", "/api/history")[1] == []
    assert [entry["path"] for entry in mock.requests()] == ["/api/history"]
