-- Ingest's one-round-trip group commit (EventLog.appendExpecting) assigns seqs from the heads the
-- gateway remembers from its own commits, and sends the whole transaction at once, without waiting
-- for an answer in between. Its statements call this to abort the transaction when PostgreSQL
-- disagrees (a head moved: another node, or an earlier transaction that failed; an event id seen
-- before). The gateway then runs the group again the locking way. SQLSTATE OPX01 tells it apart.
CREATE FUNCTION ingest_expect(ok boolean, what text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'ingest expectation failed: %', what USING ERRCODE = 'OPX01';
    END IF;
    RETURN true;
END
$$;
