package db_test

import (
	"context"
	"strings"
	"testing"

	"warden/db"
	"warden/db/dbtest"
)

func TestAuditLogIsAppendOnly(t *testing.T) {
	ctx := context.Background()
	_, conn := dbtest.NewDatabase(t)
	user, err := db.CreateUser(ctx, conn, "auditor@append.test", "Auditor", "")
	if err != nil {
		t.Fatal(err)
	}
	tx := conn.MustBeginTx(ctx, nil)
	org, err := db.CreateOrg(ctx, tx, user.Key, "Append Only", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Audit(ctx, tx, org.Org.Key, 0, "role.create", "role", 1, nil, map[string]any{"name": "CEO"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		conn.QueryRowx(`SELECT count(*) FROM audit_log WHERE org_id = $1`, org.Org.Key).Scan(&n)
		return n
	}
	before := count()
	if before == 0 {
		t.Fatalf("no audit entry was written")
	}
	for _, stmt := range []string{
		`UPDATE audit_log SET action = 'nothing.happened' WHERE org_id = $1`,
		`UPDATE audit_log SET after = NULL WHERE org_id = $1`,
		`DELETE FROM audit_log WHERE org_id = $1`,
		`TRUNCATE audit_log`,
	} {
		args := []any{org.Org.Key}
		if strings.HasPrefix(stmt, "TRUNCATE") {
			args = nil
		}
		_, err := conn.Exec(stmt, args...)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("%s: %v, want it refused as append-only", stmt, err)
		}
	}
	if got := count(); got != before {
		t.Fatalf("%d audit entries after the refused statements, want %d", got, before)
	}
	// Erasing the org erases its history with it.
	if _, err := conn.Exec(`DELETE FROM orgs WHERE id = $1`, org.Org.Key); err != nil {
		t.Fatalf("erasing the org: %v", err)
	}
	if got := count(); got != 0 {
		t.Fatalf("%d audit entries outlive their org", got)
	}
}
