"""A ready pytest fixture for the shipped mock Ayrshare (docs/mock-ayrshare.md, "For test suites").

Copy this file into your tests. It starts one mock for the whole session on a free port
(`mock-ayrshare --bind 127.0.0.1:0`, or the binary named by MOCK_AYRSHARE_BIN), reads the base URL
from its start line, and hands each test a `mock` that was reset first: every test starts from an
empty mock, with the clock back at the real time. Only the standard library is used, so the
fixture works with any HTTP client your code under test has.
"""

import json
import os
import subprocess
import urllib.error
import urllib.request

import pytest

START_LINE = "mock ayrshare listening on "


class AyrshareMock:
    """The running mock: its base URL and its control routes (/mock/...)."""

    def __init__(self, base_url, api_key):
        self.base_url = base_url  # e.g. http://127.0.0.1:40123/api: give it to your client
        self.root = base_url[: -len("/api")]
        self.api_key = api_key

    def call(self, method, path, body=None, profile_key=None, headers=None):
        """One request to the mock: (status, parsed JSON or text). `path` starts with /api/,
        /mock/ or /link/, or is a whole URL (such as a linking URL)."""
        url = path if path.startswith("http") else self.root + path
        sent = {"Authorization": f"Bearer {self.api_key}", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        if profile_key:
            sent["Profile-Key"] = profile_key
        request = urllib.request.Request(url, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            status, text = err.code, err.read().decode()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def reset(self, profile_key=None):
        self.call("POST", "/mock/reset", {"profile_key": profile_key} if profile_key else None)

    def requests(self, path=None, profile_key=None):
        """The journal: what your code sent, oldest first (secrets masked)."""
        query = "&".join(
            f"{name}={value}" for name, value in (("path", path), ("profile_key", profile_key)) if value
        )
        return self.call("GET", f"/mock/requests?{query}")[1]["requests"]

    def advance(self, seconds):
        """Moves the mock's clock: scheduled posts due by then are published (webhooks sent)."""
        return self.call("POST", "/mock/clock", {"advance_secs": seconds})[1]

    def set_fault(self, profile_key, platform, fault):
        """not_linked, rate_limited, expired_token or suspended, until cleared."""
        status, body = self.call("PUT", f"/mock/profiles/{profile_key}/faults/{platform}", {"fault": fault})
        assert status == 200, body

    def clear_fault(self, profile_key, platform):
        self.call("DELETE", f"/mock/profiles/{profile_key}/faults/{platform}")


@pytest.fixture(scope="session")
def ayrshare_mock_server():
    binary = os.environ.get("MOCK_AYRSHARE_BIN", "mock-ayrshare")
    api_key = os.environ.get("MOCK_AYRSHARE_API_KEY", "test-key")
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1:0", "--api-key", api_key],
        stdout=subprocess.PIPE,
        text=True,
    )
    # The first line on stdout, printed once the mock listens; nothing else is printed there.
    line = process.stdout.readline()
    if not line.startswith(START_LINE):
        process.kill()
        pytest.fail(f"mock-ayrshare did not start: {line!r}")
    yield AyrshareMock(line[len(START_LINE):].strip(), api_key)
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def mock(ayrshare_mock_server):
    """The session's mock, reset before the test."""
    ayrshare_mock_server.reset()
    return ayrshare_mock_server
