-- App lifecycle (freeze, delete, token rotation, idempotent create) and the control version that
-- lets every gateway node notice app and grant changes it missed.

-- Token rotation keeps the previous token valid for a grace period, like webhook secrets.
ALTER TABLE apps
    ADD COLUMN previous_token_hash       bytea,
    ADD COLUMN previous_token_expires_at timestamptz,
    -- A create retried with the same Idempotency-Key answers the app it made; the hash of the
    -- request tells a retry from another request reusing the key.
    ADD COLUMN idempotency_key           text UNIQUE,
    ADD COLUMN create_request_hash       bytea,
    -- Bumped by every change another node must follow (state, suspension, credentials, grants).
    -- Nodes compare it periodically with what they last saw, so a lost change notice costs
    -- seconds, not correctness.
    ADD COLUMN control_version           bigint NOT NULL DEFAULT 0;

CREATE INDEX apps_previous_token ON apps (previous_token_hash) WHERE previous_token_hash IS NOT NULL;

-- The version belongs to the schema, so no write path can forget it.
CREATE FUNCTION apps_bump_control_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state
        OR (NEW.endpoint_state = 'suspended') IS DISTINCT FROM (OLD.endpoint_state = 'suspended')
        OR NEW.token_hash IS DISTINCT FROM OLD.token_hash
        OR NEW.secret_ciphertext IS DISTINCT FROM OLD.secret_ciphertext
        OR NEW.callback_url IS DISTINCT FROM OLD.callback_url THEN
        NEW.control_version := OLD.control_version + 1;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER apps_control_version BEFORE UPDATE ON apps
    FOR EACH ROW EXECUTE FUNCTION apps_bump_control_version();

CREATE FUNCTION grants_bump_control_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- On a cascade from DELETE FROM apps the row is already gone and nothing is updated.
    UPDATE apps SET control_version = control_version + 1
     WHERE app_id = CASE WHEN TG_OP = 'DELETE' THEN OLD.app_id ELSE NEW.app_id END;
    RETURN NULL;
END $$;

CREATE TRIGGER grants_control_version AFTER INSERT OR UPDATE OR DELETE ON grants
    FOR EACH ROW EXECUTE FUNCTION grants_bump_control_version();
