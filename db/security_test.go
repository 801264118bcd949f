package db_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

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
