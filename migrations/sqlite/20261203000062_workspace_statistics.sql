-- Nothing on SQLite: the Postgres twin gives the planner the dependency of a record's
-- organization on its workspace (extended statistics), which SQLite's planner has no use for
-- (it picks the workspace's index by its own rules). Kept so that both backends have the same
-- migrations.
select 1;
