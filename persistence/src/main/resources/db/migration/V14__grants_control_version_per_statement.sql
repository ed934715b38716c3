-- A grant change bumps its app's control_version (V6) once per statement instead of once per row:
-- a statement that writes many grants of one app (a drill's sandbox merchants, a bulk grant)
-- updated the same apps row once per grant, and each update of a row already updated in the
-- transaction costs more than the last (50,000 grants took minutes). Transition tables hold the
-- rows a statement changed; one UPDATE per statement bumps each app they touch by one. Nodes only
-- compare versions, so one bump per statement is as good as one per row.

DROP TRIGGER grants_control_version ON grants;
DROP FUNCTION grants_bump_control_version();

CREATE FUNCTION grants_bump_control_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- On a cascade from DELETE FROM apps the app is already gone and nothing is updated.
    UPDATE apps SET control_version = control_version + 1
     WHERE app_id IN (SELECT DISTINCT app_id FROM changed);
    RETURN NULL;
END $$;

CREATE TRIGGER grants_control_version_insert AFTER INSERT ON grants
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION grants_bump_control_version();

CREATE TRIGGER grants_control_version_update AFTER UPDATE ON grants
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION grants_bump_control_version();

CREATE TRIGGER grants_control_version_delete AFTER DELETE ON grants
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION grants_bump_control_version();
