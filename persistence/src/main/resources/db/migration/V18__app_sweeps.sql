-- Deleted apps whose cursor hashes in Redis (gw:ch:{app:merchant}) may still exist. Deleting an app
-- writes its row here in the same statement; the node that deleted it removes the hashes at once,
-- and a chore on one node at a time sweeps again once every node has surely stopped delivering the
-- app (a node that had not heard of the delete may have claimed a channel meanwhile), then deletes
-- the row. A node that stops before that leaves the row, and the chore on any node finishes it:
-- without it, a node stopped or killed right after a delete left the app's hashes in Redis for good.
-- A new table: nothing is rewritten, no lock on existing tables.
CREATE TABLE app_sweeps (
    app_id     uuid        PRIMARY KEY,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
