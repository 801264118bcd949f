-- +goose Up
-- An org's security version moves to a row of its own. On orgs it shared a
-- row with the parent of every foreign key of the org's data: each insert's
-- FOR KEY SHARE check and each version bump's row lock on the same row were
-- merged into ever larger multixacts, and every request's read of the
-- version and every write's bump crawled through them (the 10-minute soak
-- with 20% writes: writes queued 10-30 s, most backends waiting on
-- MultiXactMemberSLRU or on the row). Nothing references this table, so the
-- bump's lock is the only lock its rows ever see.
CREATE TABLE org_security (
    org_id   bigint PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    version  bigint NOT NULL DEFAULT 1
) WITH (fillfactor = 20);  -- room on the page for HOT updates of hot orgs

INSERT INTO org_security (org_id, version) SELECT id, security_version FROM orgs;

-- Every org has its row, however the org was made (ALWAYS: the bench
-- loader runs with session_replication_role = replica, which skips
-- ordinary triggers).
-- +goose StatementBegin
CREATE FUNCTION org_security_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO org_security (org_id) VALUES (NEW.id);
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER org_security_row AFTER INSERT ON orgs
    FOR EACH ROW EXECUTE FUNCTION org_security_row();
ALTER TABLE orgs ENABLE ALWAYS TRIGGER org_security_row;

ALTER TABLE orgs DROP COLUMN security_version;

-- Changes are numbered when their transaction commits, not when they are
-- logged. A write logs its changes under placeholder versions (negative,
-- from a sequence, so concurrent writers never collide and the order of
-- logging is kept) marked with its transaction id; a deferred trigger then,
-- as the first thing of the commit, bumps the org's version by their
-- number and renumbers them consecutively. The org's row is therefore
-- locked from inside the commit to its end only: no client round trip, no
-- Go code waiting for a CPU, while every other write of the org queues on
-- it (the soak at 20% writes had writers holding it for 5-20 ms between
-- their bump and their COMMIT). The log stays gapless and in commit order,
-- since the numbers are taken under the row's lock. Placeholders are
-- visible to their own transaction only, so readers of the log never see
-- them.
--
-- The trigger finds its transaction's changes through a partial index on
-- the transaction id, which holds nobody else's: a scan of "version < 0"
-- also walked every earlier transaction's dead placeholders, and grew by
-- milliseconds a minute until autovacuum came (the first soak of this
-- design). Logging takes no lock: a write that must not commit beside a
-- concurrent change of the org's structure locks the row itself
-- (db.LockOrgUnchangedSince).
ALTER TABLE security_changes ADD COLUMN txn xid8;
CREATE INDEX security_changes_pending ON security_changes (org_id, txn) WHERE txn IS NOT NULL;
CREATE SEQUENCE security_change_placeholder;

-- +goose StatementBegin
CREATE FUNCTION security_changes_number() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pending bigint;
    last    bigint;
BEGIN
    -- The first firing of a commit numbers all of the transaction's
    -- changes of the org; the later ones find their placeholder gone (one
    -- primary-key probe) and stop there.
    IF NOT EXISTS (SELECT 1 FROM security_changes WHERE org_id = NEW.org_id AND version = NEW.version) THEN
        RETURN NULL;
    END IF;
    SELECT count(*) INTO pending FROM security_changes
        WHERE org_id = NEW.org_id AND txn = pg_current_xact_id();
    IF pending = 0 THEN
        RETURN NULL;
    END IF;
    UPDATE org_security SET version = version + pending WHERE org_id = NEW.org_id RETURNING version INTO last;
    IF last IS NULL THEN
        RAISE EXCEPTION 'org % has no security row', NEW.org_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    UPDATE security_changes c SET version = last - pending + p.n, txn = NULL
    FROM (SELECT version AS placeholder, row_number() OVER (ORDER BY version DESC) AS n
          FROM security_changes WHERE org_id = NEW.org_id AND txn = pg_current_xact_id()) p
    WHERE c.org_id = NEW.org_id AND c.version = p.placeholder;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE CONSTRAINT TRIGGER security_changes_number AFTER INSERT ON security_changes
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.version < 0) EXECUTE FUNCTION security_changes_number();
ALTER TABLE security_changes ENABLE ALWAYS TRIGGER security_changes_number;

-- +goose Down
DROP TRIGGER security_changes_number ON security_changes;
DROP FUNCTION security_changes_number();
DROP SEQUENCE security_change_placeholder;
DROP INDEX security_changes_pending;
ALTER TABLE security_changes DROP COLUMN txn;
ALTER TABLE orgs ADD COLUMN security_version bigint NOT NULL DEFAULT 1;
UPDATE orgs o SET security_version = s.version FROM org_security s WHERE s.org_id = o.id;
DROP TRIGGER org_security_row ON orgs;
DROP FUNCTION org_security_row();
DROP TABLE org_security;
