"""/docs in a real headless Chromium (Debian's, driven by Playwright; run by .ci/openapi-check).

Usage: docs_page.py BASE_URL API_KEY SCREENSHOT_PATH  (CHROMIUM: the browser, default
/usr/bin/chromium)

Checks what a user sees: the page renders one block per operation of /openapi.json; every
request the page makes goes to the service itself (127.0.0.1), none elsewhere, and the browser
reports no error (a blocked asset or a Content-Security-Policy violation would show there);
"Authorize" with the key, then "Try it out" and "Execute" on GET /whoami shows a 200 with the
organization. Then it keeps a screenshot of the page.
"""

import json
import os
import sys
import urllib.request
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

TIMEOUT_MS = 30_000


def fail(message: str) -> None:
    print(f"docs page: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    base_url, api_key, screenshot = sys.argv[1], sys.argv[2], sys.argv[3]
    with urllib.request.urlopen(f"{base_url}/openapi.json") as answer:
        document = json.load(answer)
    operations = sum(len(item) for item in document["paths"].values())

    requests, problems = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            headless=True,
            # CI runs as root, where Chromium's own sandbox cannot start.
            args=["--no-sandbox"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        page.on("request", lambda request: requests.append(request.url))
        page.on(
            "console",
            lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type == "error"
            else None,
        )
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))

        page.goto(f"{base_url}/docs", wait_until="networkidle", timeout=TIMEOUT_MS)
        page.wait_for_selector(".opblock", timeout=TIMEOUT_MS)
        shown = page.locator(".opblock").count()
        if shown != operations:
            fail(f"the page shows {shown} operations, the document has {operations}")
        title = page.locator(".info .title").inner_text()
        if "mosaic-social" not in title:
            fail(f"the title is {title!r}")

        # Authorize with the key.
        page.locator("button.authorize").first.click()
        page.locator(".auth-container input").first.fill(api_key)
        page.locator(".auth-btn-wrapper button.authorize").click()
        page.locator(".auth-btn-wrapper button.btn-done").click()

        # Try GET /whoami.
        operation = page.locator("#operations-account-whoami")
        operation.locator(".opblock-summary").click()
        # The page opens operations in "try it out" mode (tryItOutEnabled); the button would
        # switch it off then.
        execute = operation.locator("button.execute")
        try:
            execute.wait_for(timeout=3_000)
        except Exception:
            operation.locator("button.try-out__btn").click()
        execute.click()
        status_cell = operation.locator(".live-responses-table tr.response .response-col_status").first
        status_cell.wait_for(timeout=TIMEOUT_MS)
        status = status_cell.inner_text().strip()
        body = operation.locator(".live-responses-table tr.response .response-col_description pre").first.inner_text()
        if status != "200":
            fail(f"Try it out of GET /whoami showed {status!r}: {body}")
        if '"organization"' not in body or "demo" not in body:
            fail(f"Try it out of GET /whoami showed no organization: {body}")

        page.screenshot(path=screenshot, full_page=False)
        browser.close()

    service = urlsplit(base_url).netloc
    elsewhere = [url for url in requests if urlsplit(url).scheme not in ("data", "blob")
                 and urlsplit(url).netloc != service]
    if elsewhere:
        fail(f"the page made requests beyond the service: {elsewhere}")
    if problems:
        fail("; ".join(problems))
    print(
        f"docs page: ok: {operations} operations shown, Try it out of GET /whoami answered 200, "
        f"{len(requests)} requests, all to {service}; screenshot {screenshot}"
    )


if __name__ == "__main__":
    main()
