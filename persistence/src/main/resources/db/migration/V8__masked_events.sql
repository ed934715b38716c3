-- Guarantee 6: personal data in `data` is masked for apps without the `pii` scope.
--
-- masked: the chunk's events as an app without the pii scope receives them, rendered once at
-- ingest, as NDJSON aligned with `events` (line i is event first_seq + i): masked, or as in `events`
-- for an event with nothing to mask, so such a reader fetches this column only. NULL when no event
-- of the chunk has anything to mask.
-- masked_by: the fingerprint of the path list and masks that made `masked` (MaskRules). A reader
-- whose fingerprint differs, or finds NULL (chunks written before this migration), does not trust
-- `masked` and masks those events itself while reading them.
--
-- Both columns are nullable without a default, so adding them rewrites nothing.
ALTER TABLE event_chunks
    ADD COLUMN masked    text COMPRESSION lz4,
    ADD COLUMN masked_by text;
