-- Cursor checkpoints: Redis holds the live cursors; every few seconds (and at shutdown) the
-- gateway copies the ones that moved here, so losing Redis costs redelivery since the last
-- checkpoint, never loss.
CREATE TABLE cursor_checkpoints (
    app_id      uuid        NOT NULL REFERENCES apps (app_id) ON DELETE CASCADE,
    merchant_id text        NOT NULL,
    cursor      bigint      NOT NULL CHECK (cursor >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, merchant_id)
);
