"""The Python client generated from /openapi.json (openapi-python-client) against the sandbox.

Run by .ci/generated-clients with the generated package `mosaic_client` on PYTHONPATH:
    python smoke.py SANDBOX_URL API_KEY
It creates an immediate and a scheduled post, tracks the scheduled one, lists both, comments on
the published one and reads its comments back, and retries a failed post until
the record settles. Every answer is checked (status, type, fields); any mismatch exits non-zero.
"""

import datetime
import sys
import time

from mosaic_client import AuthenticatedClient
from mosaic_client.api.comments import add_comment, list_comments
from mosaic_client.api.posts import create_post, get_tracking, list_posts, retry_post
from mosaic_client.models import (
    CommentList,
    CommentOp,
    CommentRequest,
    CommentWriteView,
    CreatePostRequest,
    ErrorBody,
    ErrorCode,
    Platform,
    PostList,
    PostView,
    RetryView,
    TrackedStatus,
    TrackingView,
    WriteStatus,
)
from mosaic_client.types import UNSET

base_url, api_key = sys.argv[1:3]
# raise_on_unexpected_status: a status the document does not describe is a failure too.
client = AuthenticatedClient(base_url=base_url, token=api_key, raise_on_unexpected_status=True)


def expect(what, got, wanted):
    if got != wanted:
        sys.exit(f"python client: {what}: got {got!r}, wanted {wanted!r}")


def answer(what, response, status, model):
    """The response's status and parsed type, or exit."""
    expect(f"{what}: status", response.status_code, status)
    if not isinstance(response.parsed, model):
        sys.exit(f"python client: {what}: parsed as {type(response.parsed).__name__}, "
                 f"wanted {model.__name__}: {response.content!r}")
    return response.parsed


# 1. An immediate post to two platforms.
r = create_post.sync_detailed(client=client, body=CreatePostRequest(
    post="generated python client: now", platforms=[Platform.X, Platform.LINKEDIN]))
now = answer("create (now)", r, 200, PostView)
expect("create (now): tracked_status", now.tracked_status, TrackedStatus.POSTED)
expect("create (now): status", now.status, "success")
expect("create (now): platforms", [p.platform for p in now.results], ["x", "linkedin"])
expect("create (now): results", {p.status for p in now.results}, {"success"})
expect("create (now): links", len(now.links), 2)
if not isinstance(now.post_id, str) or not now.post_id:
    sys.exit(f"python client: create (now): no post_id: {now!r}")
print(f"create (now): {now.tracking_id} posted as {now.post_id}")

# 2. A scheduled post, an hour ahead, with a field the document does not name (forwarded).
when = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).replace(
    microsecond=0)
body = CreatePostRequest(post="generated python client: later", platforms=[Platform.FACEBOOK],
                         schedule_date=when.isoformat(), timezone="Europe/Berlin")
body["notes"] = "an extra key, forwarded to Ayrshare"
r = create_post.sync_detailed(client=client, body=body, idempotency_key="python-client-later")
later = answer("create (scheduled)", r, 200, PostView)
expect("create (scheduled): tracked_status", later.tracked_status, TrackedStatus.SCHEDULED)
expect("create (scheduled): status", later.status, "scheduled")
print(f"create (scheduled): {later.tracking_id} for {when.isoformat()}")

# 3. Track it by tracking_id.
r = get_tracking.sync_detailed(client=client, tracking_id=later.tracking_id)
record = answer("track", r, 200, TrackingView)
expect("track: tracking_id", record.tracking_id, later.tracking_id)
expect("track: tracked_status", record.tracked_status, TrackedStatus.SCHEDULED)
expect("track: post", record.post, "generated python client: later")
expect("track: platforms", record.platforms, ["facebook"])
expect("track: schedule_date", record.schedule_date, when)
expect("track: timezone", record.timezone, "Europe/Berlin")
expect("track: idempotency_key", record.idempotency_key, "python-client-later")
expect("track: paused", record.paused, False)
expect("track: post_id", record.post_id, later.post_id)
print(f"track: {record.tracking_id} {record.tracked_status.value}")

# 4. List: both, newest first; and the status filter.
r = list_posts.sync_detailed(client=client, limit=2)
page = answer("list", r, 200, PostList)
expect("list: tracking ids", [p.tracking_id for p in page.posts],
       [later.tracking_id, now.tracking_id])
# Two statuses, one parameter: the generated client sends a list as a repeated parameter (a 400).
r = list_posts.sync_detailed(client=client, tracked_status="scheduled,posted", limit=100)
page = answer("list (scheduled,posted)", r, 200, PostList)
expect("list (scheduled,posted): statuses", {p.tracked_status for p in page.posts},
       {TrackedStatus.SCHEDULED, TrackedStatus.POSTED})
expect("list (scheduled,posted): ours", {later.tracking_id, now.tracking_id} <= {
    p.tracking_id for p in page.posts}, True)
r = list_posts.sync_detailed(client=client, limit=0)
error = answer("list (limit=0)", r, 400, ErrorBody)
expect("list (limit=0): error", error.error, ErrorCode.VALIDATION_ERROR)
print(f"list: {len(page.posts)} scheduled or posted")


# 5. Comment on the published post (on x only), then read its comments back.
r = add_comment.sync_detailed(client=client, post_id=now.post_id, body=CommentRequest(
    comment="generated python client: a comment", platforms=[Platform.X]))
written = answer("comment", r, 200, CommentWriteView)
expect("comment: write_status", written.write_status, WriteStatus.DONE)
expect("comment: operation", written.operation, CommentOp.COMMENT)
expect("comment: post_id", written.post_id, now.post_id)
expect("comment: tracking_id", written.tracking_id, now.tracking_id)
expect("comment: comment_id", written.comment_id, None)
expect("comment: results", [(w.platform, w.status) for w in written.results], [("x", "success")])
comment_id = written.results[0].comment_id
if not isinstance(comment_id, str) or not comment_id:
    sys.exit(f"python client: comment: no comment_id in {written.results!r}")
r = list_comments.sync_detailed(client=client, post_id=now.post_id)
listed = answer("comments", r, 200, CommentList)
expect("comments: post_id", listed.post_id, now.post_id)
expect("comments: tracking_id", listed.tracking_id, now.tracking_id)
# The simulator lists a comment written through it at once (Ayrshare itself may take minutes).
expect("comments: ids", [(c.comment_id, c.platform) for c in listed.comments], [(comment_id, "x")])
expect("comments: text", listed.comments[0].text, "generated python client: a comment")
expect("comments: replies", (listed.comments[0].replies, listed.comments[0].replies_omitted),
       ([], 0))
expect("comments: next_cursor", listed.next_cursor, None)
print(f"comments: wrote {comment_id} on x, listed it")

# 6. Retry a failed post: Ayrshare refuses it (the simulator's `duplicate`), every platform failed.
r = create_post.sync_detailed(client=client, body=CreatePostRequest(
    post="generated python client: refused [mock:duplicate]", platforms=[Platform.X]))
refused = answer("create (refused)", r, 400, ErrorBody)
expect("create (refused): error", refused.error, ErrorCode.PROVIDER_REJECTED)
expect("create (refused): tracked_status", refused.tracked_status, TrackedStatus.FAILED)
if not isinstance(refused.post_id, str) or refused.tracking_id is UNSET:
    sys.exit(f"python client: create (refused): no post_id or tracking_id: {refused!r}")
r = retry_post.sync_detailed(client=client, post_id=refused.post_id)
retried = answer("retry", r, 202, RetryView)
expect("retry: post_id", retried.post_id, refused.post_id)
expect("retry: tracking_id", retried.tracking_id, refused.tracking_id)
expect("retry: tracked_status", retried.tracked_status, TrackedStatus.PENDING)
r = retry_post.sync_detailed(client=client, post_id=refused.post_id)
again = answer("retry (again)", r, 409, ErrorBody)
expect("retry (again): error", again.error, ErrorCode.CONFLICT)
# The simulator publishes the retried post about 5 s later and tells the sandbox by webhook.
deadline = time.monotonic() + 30
while True:
    r = get_tracking.sync_detailed(client=client, tracking_id=refused.tracking_id)
    record = answer("track (retried)", r, 200, TrackingView)
    if record.tracked_status != TrackedStatus.PENDING or time.monotonic() > deadline:
        break
    time.sleep(0.5)
expect("track (retried): tracked_status", record.tracked_status, TrackedStatus.POSTED)
print(f"retry: {refused.tracking_id} failed -> pending -> {record.tracked_status.value}")
print("python client: ok")
