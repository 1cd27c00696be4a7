"""Linking a social account in a real headless Chromium (Debian's, driven by Playwright; run by
.ci/connections-browser against `serve --sandbox`).

Usage: connect_flow.py BASE_URL API_KEY WORKSPACE_ID  (CHROMIUM: the browser, default
/usr/bin/chromium)

What a customer's user does: the service's POST /social/linkedin/connect gives a connect_url;
the browser opens it (the shipped mock's linking page), presses "Link LinkedIn", and lands back
on redirect_url; GET /social/linkedin/status then says connected, and GET /social/connections
lists the account, from the state the simulator's signed `social` webhook updated.
"""

import json
import os
import sys
import time
import urllib.request

from playwright.sync_api import sync_playwright

TIMEOUT_MS = 30_000


def fail(message: str) -> None:
    print(f"connect flow: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def call(method: str, url: str, key: str, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status, json.load(answer)


def main() -> None:
    base_url, api_key, workspace = sys.argv[1], sys.argv[2], sys.argv[3]
    redirect_url = f"{base_url}/healthz?linked=linkedin"
    status, before = call("GET", f"{base_url}/social/linkedin/status?workspace_id={workspace}", api_key)
    if status != 200 or before["connected"]:
        fail(f"linkedin should start unlinked: {status} {before}")
    status, connect = call(
        "POST",
        f"{base_url}/social/linkedin/connect",
        api_key,
        {"workspace_id": workspace, "redirect_url": redirect_url},
    )
    if status != 200 or not connect.get("connect_url"):
        fail(f"connect answered {status} {connect}")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            headless=True,
            # CI runs as root, where Chromium's own sandbox cannot start.
            args=["--no-sandbox"],
        )
        page = browser.new_page()
        page.goto(connect["connect_url"], timeout=TIMEOUT_MS)
        state = page.locator("#state-linkedin").inner_text()
        if state != "not linked":
            fail(f"the linking page says linkedin is {state!r}")
        page.click("#link-linkedin", timeout=TIMEOUT_MS)
        page.wait_for_url(redirect_url, timeout=TIMEOUT_MS)
        if page.url != redirect_url:
            fail(f"the page ended at {page.url}, not {redirect_url}")
        browser.close()

    status, after = call("GET", f"{base_url}/social/linkedin/status?workspace_id={workspace}", api_key)
    if status != 200 or not after["connected"] or not after["account"].get("username"):
        fail(f"status after linking: {status} {after}")
    # The list is the stored state: the status read above refreshed it (the webhook too).
    deadline = time.time() + 10
    while True:
        _, listed = call("GET", f"{base_url}/social/connections?workspace_id={workspace}&platform=linkedin", api_key)
        if listed["connected_accounts"]:
            break
        if time.time() > deadline:
            fail(f"/social/connections never listed linkedin: {listed}")
        time.sleep(0.2)
    print(f"connect flow: ok (linked {after['account']['username']}, back at {redirect_url})")


if __name__ == "__main__":
    main()
