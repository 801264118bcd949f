package db_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"warden/db"
)

// TestChangesNumberedAtCommit: concurrent writers of one org log changes
// that get their versions when they commit. Whatever the interleaving, the
// committed log is gapless, each transaction's changes are consecutive and
// in the order logged, rolled-back changes leave no trace, the org's
// version is the last change's, and nobody else sees a change before its
// commit.
func TestChangesNumberedAtCommit(t *testing.T) {
	d, org, _ := bulkOrg(t)
	ctx := context.Background()
	var v0 int64
	if err := d.Get(&v0, `SELECT version FROM org_security WHERE org_id = $1`, org); err != nil {
		t.Fatal(err)
	}
	type step struct {
		Writer int `json:"w"`
		K      int `json:"k"`
	}
	const writers, perWriter = 24, 4
	errRollback := errors.New("rolled back on purpose")
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tx, err := d.BeginTxx(ctx, nil)
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = tx.Rollback() }()
			// Three in one statement, then one more: both paths, one order.
			if err := db.LogSecurityChanges(ctx, tx, org, db.ChangeOrg, []any{step{w, 0}, step{w, 1}, step{w, 2}}); err != nil {
				errs <- err
				return
			}
			time.Sleep(time.Duration(w%5) * time.Millisecond)
			if err := db.LogSecurityChange(ctx, tx, org, db.ChangeOrg, step{w, 3}); err != nil {
				errs <- err
				return
			}
			if w%6 == 5 {
				errs <- errRollback
				return
			}
			errs <- tx.Commit()
		}()
	}
	wg.Wait()
	close(errs)
	committed := 0
	for err := range errs {
		switch {
		case err == nil:
			committed++
		case !errors.Is(err, errRollback):
			t.Fatal(err)
		}
	}
	if committed != writers-writers/6 {
		t.Fatalf("%d commits", committed)
	}

	changes, err := db.ChangesSince(ctx, d, org, v0)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != committed*perWriter {
		t.Fatalf("%d changes logged, want %d", len(changes), committed*perWriter)
	}
	for i := 0; i < len(changes); i += perWriter {
		var first step
		for k := range perWriter {
			c := changes[i+k]
			if c.Version != v0+int64(i+k)+1 {
				t.Fatalf("change %d has version %d, want %d (gapless)", i+k, c.Version, v0+int64(i+k)+1)
			}
			var s step
			if err := json.Unmarshal(c.Payload, &s); err != nil {
				t.Fatal(err)
			}
			if k == 0 {
				first = s
			}
			if s.Writer != first.Writer || s.K != k {
				t.Fatalf("version %d holds writer %d step %d; want writer %d step %d (a transaction's changes consecutive, in order)",
					c.Version, s.Writer, s.K, first.Writer, k)
			}
			if s.Writer%6 == 5 {
				t.Fatalf("writer %d rolled back, yet its change is at version %d", s.Writer, c.Version)
			}
		}
	}
	var v1 int64
	if err := d.Get(&v1, `SELECT version FROM org_security WHERE org_id = $1`, org); err != nil {
		t.Fatal(err)
	}
	if v1 != v0+int64(len(changes)) {
		t.Fatalf("org version %d, want %d", v1, v0+int64(len(changes)))
	}

	// Before the commit: the writer's own changes are placeholders, and
	// nobody else sees anything.
	tx, err := d.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := db.LogSecurityChange(ctx, tx, org, db.ChangeOrg, step{99, 0}); err != nil {
		t.Fatal(err)
	}
	if others, err := db.ChangesSince(ctx, d, org, v1); err != nil || len(others) != 0 {
		t.Fatalf("another connection sees %d uncommitted changes (%v)", len(others), err)
	}
	if v, err := db.CurrentVersion(ctx, d, org); err != nil || v != v1 {
		t.Fatalf("another connection sees version %d before the commit, want %d (%v)", v, v1, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if v, err := db.CurrentVersion(ctx, d, org); err != nil || v != v1+1 {
		t.Fatalf("version after the commit %d, want %d (%v)", v, v1+1, err)
	}
}

// TestChangesNumberedWhenConstraintsRunEarly: SET CONSTRAINTS ALL
// IMMEDIATE numbers the changes logged so far; changes logged after it are
// numbered at the commit all the same, none is left with its placeholder.
func TestChangesNumberedWhenConstraintsRunEarly(t *testing.T) {
	d, org, _ := bulkOrg(t)
	ctx := context.Background()
	v0, err := db.CurrentVersion(ctx, d, org)
	if err != nil {
		t.Fatal(err)
	}
	inTx(t, d, func(tx *sqlx.Tx) error {
		if err := db.LogSecurityChange(ctx, tx, org, db.ChangeOrg, map[string]any{"step": 1}); err != nil {
			return err
		}
		if _, err := tx.Exec(`SET CONSTRAINTS ALL IMMEDIATE`); err != nil {
			return err
		}
		if _, err := tx.Exec(`SET CONSTRAINTS ALL DEFERRED`); err != nil {
			return err
		}
		return db.LogSecurityChanges(ctx, tx, org, db.ChangeOrg, []any{map[string]any{"step": 2}, map[string]any{"step": 3}})
	})
	changes, err := db.ChangesSince(ctx, d, org, v0)
	if err != nil {
		t.Fatal(err)
	}
	var placeholders int
	if err := d.Get(&placeholders, `SELECT count(*) FROM security_changes WHERE org_id = $1 AND version < 0`, org); err != nil {
		t.Fatal(err)
	}
	if len(changes) != 3 || placeholders != 0 || changes[2].Version != v0+3 {
		t.Fatalf("%d changes after %d (%+v), %d placeholders left; want 3 numbered %d..%d", len(changes), v0, changes, placeholders, v0+1, v0+3)
	}
}

// TestLockOrgUnchangedSince: the check sees a structural change committed
// before it, and while its lock is held no other change of the org can
// commit (the commit's numbering waits for the lock).
func TestLockOrgUnchangedSince(t *testing.T) {
	d, org, _ := bulkOrg(t)
	ctx := context.Background()
	base, err := db.CurrentVersion(ctx, d, org)
	if err != nil {
		t.Fatal(err)
	}
	inTx(t, d, func(tx *sqlx.Tx) error {
		return db.LogSecurityChange(ctx, tx, org, db.ChangeOrg, map[string]any{"group": 1})
	})
	inTx(t, d, func(tx *sqlx.Tx) error {
		stale, err := db.LockOrgUnchangedSince(ctx, tx, org, base)
		if err == nil && !stale {
			t.Error("a group change committed after base: not seen")
		}
		return err
	})

	holder, err := d.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Rollback() }()
	if stale, err := db.LockOrgUnchangedSince(ctx, holder, org, base+1); err != nil || stale {
		t.Fatalf("stale %v, err %v: nothing changed since %d", stale, err, base+1)
	}
	writer, err := d.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := writer.Get(&pid, `SELECT pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	if err := db.LogSecurityChange(ctx, writer, org, db.ChangeOrg, map[string]any{"group": 2}); err != nil {
		t.Fatal(err)
	}
	committed := make(chan error, 1)
	go func() { committed <- writer.Commit() }()
	for waiting := false; !waiting; {
		select {
		case err := <-committed:
			t.Fatalf("a change committed while the org was locked (%v)", err)
		case <-time.After(10 * time.Millisecond):
		}
		if err := d.Get(&waiting, `SELECT coalesce(bool_or(wait_event_type = 'Lock'), false) FROM pg_stat_activity WHERE pid = $1`, pid); err != nil {
			t.Fatal(err)
		}
	}
	if err := holder.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	if v, err := db.CurrentVersion(ctx, d, org); err != nil || v != base+2 {
		t.Fatalf("version %d, want %d (%v)", v, base+2, err)
	}
}
