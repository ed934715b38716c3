-- Event-type subscriptions: a grant may name the event types its app wants ("order.paid", or a
-- prefix "order.refund*"). Empty means every type, so existing grants keep receiving everything.
-- Nullable-free with a constant default: adding it rewrites nothing. Changing it is an UPDATE of
-- grants, so the grants_control_version trigger (V6) tells every node, like a scope change.
ALTER TABLE grants
    ADD COLUMN event_types text[] NOT NULL DEFAULT '{}';
