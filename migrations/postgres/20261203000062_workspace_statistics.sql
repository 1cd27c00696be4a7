-- A record's workspace decides its organization, but the planner takes the two as independent:
-- for `GET /social/posts?workspace_id=` (organization and workspace both in the condition) it
-- expected a few rows where a workspace has thousands, and read every one of them through two
-- bitmaps to sort them, instead of walking the workspace's index newest first for one page.
-- Measured at 10,000,000 records: docs/benchmark.md, "Growth".
create statistics scheduled_social_posts_v2_workspace_organization (dependencies)
    on workspace_id, organization_id from scheduled_social_posts_v2;
-- The statistics exist once the table is analyzed; a sample of the table, seconds at ten million.
analyze scheduled_social_posts_v2;
