-- Key rotation for secrets at rest: each sealed webhook secret records the id of the key that
-- sealed it (SecretCipher.keyId, a fingerprint, not the key). NULL: sealed before ids were kept;
-- the gateway then tries every configured key, and `reseal` stamps the id.
ALTER TABLE apps
    ADD COLUMN secret_key_id text,
    ADD COLUMN previous_secret_key_id text;
