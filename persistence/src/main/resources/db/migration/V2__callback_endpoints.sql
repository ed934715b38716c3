-- Callback endpoints: their state survives restarts ('suspended' only changes when an operator
-- resumes it), and secret rotation keeps the previous secret valid for a grace period, during
-- which deliveries carry both signatures.
ALTER TABLE apps
    ADD COLUMN endpoint_state text NOT NULL DEFAULT 'active'
        CHECK (endpoint_state IN ('active', 'failing', 'suspended')),
    ADD COLUMN previous_secret_ciphertext bytea,
    ADD COLUMN previous_secret_expires_at timestamptz;
