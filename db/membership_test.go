package db_test

import (
	"context"
	"errors"
	"testing"

	"warden/db"
	"warden/db/dbtest"
)

// MembershipOf is what every request starts from: the member, the org and
// the version its access state must reach, or ErrNotFound.
func TestMembershipOf(t *testing.T) {
	ctx := context.Background()
	_, conn := dbtest.NewDatabase(t)
	owner, err := db.CreateUser(ctx, conn, "owner@membership.test", "Owner", "")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := db.CreateUser(ctx, conn, "stranger@membership.test", "Stranger", "")
	if err != nil {
		t.Fatal(err)
	}
	tx := conn.MustBeginTx(ctx, nil)
	made, err := db.CreateOrg(ctx, tx, owner.Key, "Members Inc", "Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.LogSecurityChange(ctx, tx, made.Org.Key, db.ChangeOrg, db.OrgChange{Action: "role.update", TargetType: "role", TargetID: made.TopRole.Key}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	want, err := db.OrgByID(ctx, conn, made.Org.Key)
	if err != nil {
		t.Fatal(err)
	}
	m, org, err := db.MembershipOf(ctx, conn, made.Org.Key, owner.Key)
	if err != nil {
		t.Fatal(err)
	}
	if m.Key != made.Member.Key || m.UserID != owner.Key || m.Name != "Owner" || !m.Active() {
		t.Errorf("member = %+v, want the owner's membership %d", m, made.Member.Key)
	}
	if *org != *want {
		t.Errorf("org = %+v, want %+v", org, want)
	}
	if org.SecurityVersion < 1 {
		t.Errorf("security version %d: the logged change is not counted", org.SecurityVersion)
	}
	for _, tc := range []struct {
		name      string
		org, user int64
	}{
		{"not a member", made.Org.Key, stranger.Key},
		{"no such org", made.Org.Key + 1000, owner.Key},
	} {
		if _, _, err := db.MembershipOf(ctx, conn, tc.org, tc.user); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", tc.name, err)
		}
	}
}
