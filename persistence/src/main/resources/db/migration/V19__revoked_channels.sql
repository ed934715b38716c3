-- Revoked grants whose channel hash in Redis (gw:ch:{app:merchant}) is still to be given its expiry.
-- A revoke writes its row here in the same statement that removes the grant; the node that revoked
-- sets the expiry at once and deletes the row; a chore on one node at a time sets it for the rows
-- left (Redis was unreachable, or the node stopped in between), then deletes them. Without it, a
-- revoke whose expiry failed once left the hash in Redis until the app was deleted.
-- grant_version is the revoked grant's granted_at in epoch milliseconds, as the hash records it;
-- ttl_ms how long after the revoke the hash is to stay (retention and two days; a drill's sandbox
-- channels, a day). A drill's end writes rows for its sandbox channels the same way.
-- A new table: nothing is rewritten, no lock on existing tables.
CREATE TABLE revoked_channels (
    app_id        uuid        NOT NULL,
    merchant_id   text        NOT NULL,
    grant_version bigint      NOT NULL,
    ttl_ms        bigint      NOT NULL CHECK (ttl_ms > 0),
    revoked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, merchant_id, grant_version)
);
