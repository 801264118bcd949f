package db_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/jmoiron/sqlx"

	"warden/db"
	"warden/db/dbtest"
	"warden/records"
)

// bulkOrg makes an org with one member on a fresh database.
func bulkOrg(tb testing.TB) (*sqlx.DB, int64, int64) {
	tb.Helper()
	d := dbtest.Open(tb)
	var org, role, profile, user, member int64
	for _, q := range []struct {
		dest *int64
		sql  string
		args []any
	}{
		{&org, `INSERT INTO orgs (name) VALUES ('bulk') RETURNING id`, nil},
		{&role, `INSERT INTO roles (org_id, name) VALUES ($1, 'CEO') RETURNING id`, []any{&org}},
		{&profile, `INSERT INTO profiles (org_id, name, is_admin) VALUES ($1, 'Administrator', true) RETURNING id`, []any{&org}},
		{&user, `INSERT INTO users (email, name) VALUES ($1, 'U') RETURNING id`, []any{dbtest.RandomName("u") + "@example.com"}},
		{&member, `INSERT INTO members (org_id, user_id, role_id, profile_id) VALUES ($1, $2, $3, $4) RETURNING id`, []any{&org, &user, &role, &profile}},
	} {
		args := make([]any, len(q.args))
		for i, a := range q.args {
			if p, ok := a.(*int64); ok {
				args[i] = *p
			} else {
				args[i] = a
			}
		}
		if err := d.Get(q.dest, q.sql, args...); err != nil {
			tb.Fatal(err)
		}
	}
	return d, org, member
}

func inTx(tb testing.TB, d *sqlx.DB, fn func(tx *sqlx.Tx) error) {
	tb.Helper()
	tx, err := d.Beginx()
	if err != nil {
		tb.Fatal(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// TestBulkRecordWrites: the set-wise writes store what the single-record
// writes would, return rows in input order, merge custom fields, detach
// children, and log changes with consecutive versions.
func TestBulkRecordWrites(t *testing.T) {
	d, org, member := bulkOrg(t)
	ctx := context.Background()
	deals, accounts := records.MetaOf(records.Deals), records.MetaOf(records.Accounts)
	var acct records.Record
	var recs []records.Record
	inTx(t, d, func(tx *sqlx.Tx) error {
		var err error
		if acct, err = db.InsertRecord(ctx, tx, org, accounts, map[string]any{"owner_id": member, "name": "Acme"}); err != nil {
			return err
		}
		recs, err = db.InsertRecords(ctx, tx, org, deals, []map[string]any{
			{"owner_id": member, "name": "one", "amount": 1.5, "custom": records.JSONMap{"a": "x", "b": float64(2)}, "account_id": acct.Base().Key},
			{"owner_id": member, "name": "two", "closing_date": "2026-02-03"},
			{"owner_id": member, "name": "three", "probability": int64(40)},
		})
		return err
	})
	if len(recs) != 3 {
		t.Fatalf("%d rows returned", len(recs))
	}
	one, two, three := recs[0].(*records.Deal), recs[1].(*records.Deal), recs[2].(*records.Deal)
	if one.Name != "one" || *one.Amount != 1.5 || one.Custom["a"] != "x" || *one.AccountID != acct.Base().Key ||
		two.Name != "two" || two.ClosingDate.String() != "2026-02-03" || len(two.Custom) != 0 || three.Name != "three" || *three.Probability != 40 {
		t.Errorf("stored rows: %+v %+v %+v", one, two, three)
	}
	keys := []int64{one.Key, two.Key}
	inTx(t, d, func(tx *sqlx.Tx) error {
		locked, err := db.LockRecords(ctx, tx, org, deals, append(keys, 999999999))
		if err != nil || len(locked) != 2 {
			return fmt.Errorf("locked %d (%v)", len(locked), err)
		}
		got, err := db.UpdateRecords(ctx, tx, org, deals, keys, map[string]any{"stage": "Won", "custom": records.JSONMap{"a": nil, "c": true}})
		if err != nil {
			return err
		}
		if s := got[one.Key].(*records.Deal); *s.Stage != "Won" || fmt.Sprint(s.Custom) != "map[b:2 c:true]" {
			t.Errorf("updated one: stage %v custom %v", *s.Stage, s.Custom)
		}
		if s := got[two.Key].(*records.Deal); fmt.Sprint(s.Custom) != "map[c:true]" {
			t.Errorf("updated two: custom %v", s.Custom)
		}
		return nil
	})
	inTx(t, d, func(tx *sqlx.Tx) error {
		deleted, orphans, err := db.DeleteRecords(ctx, tx, org, records.Accounts, []int64{acct.Base().Key})
		if err != nil {
			return err
		}
		if len(deleted) != 1 || len(orphans) != 1 || orphans[0].Base().Key != one.Key || orphans[0].(*records.Deal).AccountID != nil {
			t.Errorf("deleted %v, orphans %+v", deleted, orphans)
		}
		return nil
	})
	var v0 int64
	if err := d.Get(&v0, `SELECT version FROM org_security WHERE org_id = $1`, org); err != nil {
		t.Fatal(err)
	}
	inTx(t, d, func(tx *sqlx.Tx) error {
		if err := db.LogSecurityChanges(ctx, tx, org, db.ChangeRecordDelete, []any{db.RecordChange{Module: records.Deals, ID: 1}, db.RecordChange{Module: records.Deals, ID: 2}}); err != nil {
			return err
		}
		return db.AuditMany(ctx, tx, org, member, []db.AuditEntry{{Action: "a1", TargetType: "deals", TargetID: 1, After: map[string]any{"x": 1}}, {Action: "a2", TargetType: "deals"}})
	})
	var v1 int64
	if err := d.Get(&v1, `SELECT version FROM org_security WHERE org_id = $1`, org); err != nil || v1 != v0+2 {
		t.Fatalf("version after the commit %d, want %d (%v)", v1, v0+2, err)
	}
	changes, err := db.ChangesSince(ctx, d, org, v0)
	if err != nil || len(changes) != 2 || changes[0].Version != v0+1 || changes[1].Version != v0+2 {
		t.Fatalf("changes %+v (%v)", changes, err)
	}
	var rc db.RecordChange
	if err := json.Unmarshal(changes[1].Payload, &rc); err != nil || rc.ID != 2 {
		t.Errorf("second change %s", changes[1].Payload)
	}
	var audits []struct {
		Action string  `db:"action"`
		Target *int64  `db:"target_id"`
		After  *string `db:"after"`
	}
	if err := d.Select(&audits, `SELECT action, target_id, after::text AS after FROM audit_log WHERE org_id = $1 ORDER BY id`, org); err != nil {
		t.Fatal(err)
	}
	if len(audits) != 2 || audits[0].Action != "a1" || *audits[0].Target != 1 || *audits[0].After != `{"x": 1}` || audits[1].Target != nil || audits[1].After != nil {
		t.Errorf("audit rows %+v", audits)
	}
}

// BenchmarkBulkInsertRecords measures an import's writes: 10,000 contacts
// by COPY, their change-log entries and their audit entries.
func BenchmarkBulkInsertRecords(b *testing.B) {
	d, org, member := bulkOrg(b)
	ctx := context.Background()
	meta := records.MetaOf(records.Contacts)
	const n = 10000
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = map[string]any{"owner_id": member, "created_by": member, "last_name": fmt.Sprintf("Last%05d", i),
			"first_name": "First", "email": fmt.Sprintf("f%05d@example.com", i), "mailing_city": "Berlin", "custom": records.JSONMap{"tier": int64(i % 7)}}
	}
	for b.Loop() {
		inTx(b, d, func(tx *sqlx.Tx) error {
			recs, err := db.InsertRecords(ctx, tx, org, meta, rows)
			if err != nil {
				return err
			}
			payloads := make([]any, len(recs))
			entries := make([]db.AuditEntry, len(recs))
			for i, r := range recs {
				payloads[i] = db.RecordChange{Module: records.Contacts, ID: r.Base().Key, Owner: member, Fields: records.FieldValues(r)}
				entries[i] = db.AuditEntry{Action: "record.create", TargetType: "contacts", TargetID: r.Base().Key, After: records.FieldValues(r)}
			}
			if err := db.LogSecurityChanges(ctx, tx, org, db.ChangeRecordUpsert, payloads); err != nil {
				return err
			}
			return db.AuditMany(ctx, tx, org, member, entries)
		})
	}
}
