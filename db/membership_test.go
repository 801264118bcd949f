package db_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"warden/db"
	"warden/db/dbtest"
)

// newOrg makes a fresh database with an org in the time zone, its owner,
// and a user who is not a member.
func newOrg(t *testing.T, timeZone string) (conn *sqlx.DB, owner, stranger *db.User, made *db.NewOrg) {
	t.Helper()
	ctx := context.Background()
	_, conn = dbtest.NewDatabase(t)
	var err error
	if owner, err = db.CreateUser(ctx, conn, "owner@membership.test", "Owner", ""); err != nil {
		t.Fatal(err)
	}
	if stranger, err = db.CreateUser(ctx, conn, "stranger@membership.test", "Stranger", ""); err != nil {
		t.Fatal(err)
	}
	tx := conn.MustBeginTx(ctx, nil)
	defer func() { _ = tx.Rollback() }()
	if made, err = db.CreateOrg(ctx, tx, owner.Key, "Members Inc", timeZone); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return conn, owner, stranger, made
}

// MembershipOf is what every request starts from: the member, the org and
// the version its access state must reach, or ErrNotFound.
func TestMembershipOf(t *testing.T) {
	ctx := context.Background()
	conn, owner, stranger, made := newOrg(t, "Europe/Berlin")
	tx := conn.MustBeginTx(ctx, nil)
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

// SessionMembershipOf is MembershipOf guarded by the token's session: a
// request whose session is revoked, expired or another user's reads no
// membership, exactly as SessionDefaultOrg refuses it.
func TestSessionMembershipOf(t *testing.T) {
	ctx := context.Background()
	conn, owner, stranger, made := newOrg(t, "UTC")
	now := time.Now()
	for _, s := range []db.Session{
		{ID: "live", UserID: owner.Key, ExpiresAt: now.Add(time.Hour)},
		{ID: "expired", UserID: owner.Key, ExpiresAt: now.Add(-time.Minute)},
		{ID: "revoked", UserID: owner.Key, ExpiresAt: now.Add(time.Hour)},
		{ID: "stranger", UserID: stranger.Key, ExpiresAt: now.Add(time.Hour)},
	} {
		s.AuthenticatedAt, s.CreatedAt = now, now
		if err := db.CreateSession(ctx, conn, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.RevokeSession(ctx, conn, "revoked", owner.Key); err != nil {
		t.Fatal(err)
	}
	wantMember, wantOrg, err := db.MembershipOf(ctx, conn, made.Org.Key, owner.Key)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, session string
		org, user     int64
		found         bool
	}{
		{"live session, member", "live", made.Org.Key, owner.Key, true},
		{"expired session", "expired", made.Org.Key, owner.Key, false},
		{"revoked session", "revoked", made.Org.Key, owner.Key, false},
		{"another user's session", "stranger", made.Org.Key, owner.Key, false},
		{"no such session", "nonexistent", made.Org.Key, owner.Key, false},
		{"live session, not a member", "stranger", made.Org.Key, stranger.Key, false},
		{"live session, no such org", "live", made.Org.Key + 1000, owner.Key, false},
	} {
		m, org, err := db.SessionMembershipOf(ctx, conn, tc.session, tc.org, tc.user)
		switch {
		case tc.found && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.found && (*m != *wantMember || *org != *wantOrg):
			t.Errorf("%s: got %+v in %+v, want %+v in %+v (as MembershipOf)", tc.name, m, org, wantMember, wantOrg)
		case !tc.found && !errors.Is(err, db.ErrNotFound):
			t.Errorf("%s: err = %v, want ErrNotFound", tc.name, err)
		}
	}
}

// ReloadOrgDataAt reads the parts a change touched without a transaction
// and keeps them only while the org's version is still the log's last:
// then they equal a reload in a snapshot transaction; after another change
// commits, it declines (ok false) and leaves the data as it was.
func TestReloadOrgDataAt(t *testing.T) {
	ctx := context.Background()
	conn, _, _, made := newOrg(t, "UTC")
	org := made.Org.Key
	data, err := db.LoadOrgData(ctx, conn, org)
	if err != nil {
		t.Fatal(err)
	}
	addRole := func(name string) {
		t.Helper()
		tx := conn.MustBeginTx(ctx, nil)
		var id int64
		if err := tx.GetContext(ctx, &id, `INSERT INTO roles (org_id, name, parent_id) VALUES ($1, $2, $3) RETURNING id`, org, name, made.TopRole.Key); err != nil {
			t.Fatal(err)
		}
		if err := db.LogSecurityChange(ctx, tx, org, db.ChangeOrg, db.OrgChange{Action: "role.create", TargetType: "role", TargetID: id}); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	addRole("Sales")
	changes, err := db.ChangesSince(ctx, conn, org, data.Version)
	if err != nil {
		t.Fatal(err)
	}
	touched := db.TouchedBy(changes)

	got, ok, err := db.ReloadOrgDataAt(ctx, conn, data, &touched)
	if err != nil || !ok {
		t.Fatalf("nothing changed since the log was read: ok %v, err %v; want the reload", ok, err)
	}
	snap, err := db.BeginSnapshot(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	want, err := db.ReloadOrgData(ctx, snap, data, &touched)
	_ = snap.Rollback()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || len(got.Roles) != len(data.Roles)+1 {
		t.Errorf("reloaded without a transaction: %d roles at version %d; in one: %d roles at version %d (was %d roles)",
			len(got.Roles), got.Version, len(want.Roles), want.Version, len(data.Roles))
	}

	addRole("Support") // commits after the log above was read
	got, ok, err = db.ReloadOrgDataAt(ctx, conn, data, &touched)
	if err != nil || ok {
		t.Fatalf("a change committed after the log was read: ok %v, err %v; want it declined", ok, err)
	}
	if !reflect.DeepEqual(got, data) {
		t.Error("a declined reload changed the data it was given")
	}
}
