-- App drills: a synthetic peak day sent through the gateway to one app's own transport, to tell
-- its ISV where the app breaks (docs/drills.md). A drill's merchants live in the reserved
-- namespace sandbox:<drill_id>:<n>, are granted only to the drill's app, and are removed with
-- their events, grants, checkpoints and cursors when the drill is deleted.

CREATE TABLE drills (
    drill_id    text        PRIMARY KEY CHECK (drill_id ~ '^[a-z0-9]{1,16}$'),
    -- No foreign key: deleting the app stops the drill, and the drill (with its sandbox merchants)
    -- stays until an operator deletes it.
    app_id      uuid        NOT NULL,
    state       text        NOT NULL CHECK (state IN ('running', 'finished', 'stopped', 'failed')),
    settings    jsonb       NOT NULL,
    -- The node that runs the drill's load and writes its report.
    node_id     text        NOT NULL,
    stop_reason text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    summary     jsonb,
    report_md   text,
    report_html text
);

CREATE INDEX drills_running ON drills (app_id) WHERE state = 'running';

-- One row per node per second of a drill: what that node saw of the drilled app (acks with
-- commit-to-ack latency, callback answers, connections). The report adds the nodes up.
CREATE TABLE drill_samples (
    drill_id text   NOT NULL REFERENCES drills (drill_id) ON DELETE CASCADE,
    node_id  text   NOT NULL,
    t        int    NOT NULL CHECK (t >= 0),
    sample   jsonb  NOT NULL,
    PRIMARY KEY (drill_id, node_id, t)
);

-- Sandbox merchants are marked in storage, not only by their ids.
ALTER TABLE merchants ADD COLUMN drill_id text;
CREATE INDEX merchants_sandbox ON merchants (drill_id) WHERE drill_id IS NOT NULL;
