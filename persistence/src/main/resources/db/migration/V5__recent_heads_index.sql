-- The delivery engine's reconcile asks, every few seconds, which merchants got events in the last
-- seconds ("heads changed since"), to wake channels whose wake-up was missed. This index answers
-- that from its newest end, without touching the events themselves; it costs one index entry per
-- chunk (one per merchant per group commit), not per event.
CREATE INDEX event_chunks_recent ON event_chunks (ingested_at) INCLUDE (merchant_id, last_seq);
