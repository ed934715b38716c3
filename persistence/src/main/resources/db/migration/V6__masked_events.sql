-- Guarantee 6: personal data in `data` is masked for apps without the `pii` scope.
--
-- masked: the chunk's events with their personal data masked, rendered once at ingest, as NDJSON
-- aligned with `events` (line i is event first_seq + i). An empty line means that event has
-- nothing to mask (deliver its line of `events`); NULL means no event of the chunk has any.
-- masked_by: the fingerprint of the path list and masks that made `masked` (MaskRules). A reader
-- whose fingerprint differs, or finds NULL (chunks written before this migration), does not trust
-- `masked` and masks those events itself while reading them.
--
-- Both columns are nullable without a default, so adding them rewrites nothing.
ALTER TABLE event_chunks
    ADD COLUMN masked    text COMPRESSION lz4,
    ADD COLUMN masked_by text;
