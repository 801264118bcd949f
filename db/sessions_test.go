package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"warden/db"
	"warden/db/dbtest"
)

func TestSessionLiveness(t *testing.T) {
	conn := dbtest.Open(t)
	ctx := context.Background()
	u, err := db.CreateUser(ctx, conn, "live@example.com", "Liv", "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, s := range []db.Session{
		{ID: "live", ExpiresAt: now.Add(time.Hour)},
		{ID: "expired", ExpiresAt: now.Add(-time.Minute)},
		{ID: "long-expired", ExpiresAt: now.Add(-48 * time.Hour)},
		{ID: "revoked", ExpiresAt: now.Add(time.Hour)},
	} {
		s.UserID, s.AuthenticatedAt, s.CreatedAt = u.Key, now, now
		if err := db.CreateSession(ctx, conn, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.RevokeSession(ctx, conn, "revoked", u.Key); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id   string
		user int64
		live bool
	}{{"live", u.Key, true}, {"live", u.Key + 1, false}, {"expired", u.Key, false}, {"revoked", u.Key, false}, {"nonexistent", u.Key, false}} {
		_, err := db.SessionDefaultOrg(ctx, conn, tc.id, tc.user)
		if live := err == nil; live != tc.live || (err != nil && !errors.Is(err, db.ErrNotFound)) {
			t.Errorf("session %s of user %d: err %v, want live=%v", tc.id, tc.user, err, tc.live)
		}
	}
	// Revoking twice: the second finds nothing live.
	if _, err := db.RevokeSession(ctx, conn, "revoked", u.Key); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("second revocation: %v", err)
	}
	if err := db.PurgeSessions(ctx, conn, u.Key); err != nil {
		t.Fatal(err)
	}
	var left []string
	if err := conn.Select(&left, `SELECT id FROM sessions ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if len(left) != 3 || left[0] != "expired" {
		t.Errorf("after purge: %v, want expired, live, revoked", left)
	}
}

// BenchmarkSessionDefaultOrg is the check every request with a token makes,
// on a table of 100,000 sessions.
func BenchmarkSessionDefaultOrg(b *testing.B) {
	conn := dbtest.Open(b)
	ctx := context.Background()
	if _, err := conn.Exec(`INSERT INTO users (email, name) SELECT 'u' || i || '@example.com', 'U' FROM generate_series(1, 1000) i`); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(`INSERT INTO sessions (id, user_id, authenticated_at, created_at, expires_at)
		SELECT md5(i::text), (SELECT min(id) FROM users) + i % 1000, now(), now(), now() + interval '1 hour'
		FROM generate_series(1, 100000) i`); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(`ANALYZE sessions`); err != nil {
		b.Fatal(err)
	}
	var id string
	var user int64
	if err := conn.QueryRow(`SELECT id, user_id FROM sessions LIMIT 1 OFFSET 5000`).Scan(&id, &user); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := db.SessionDefaultOrg(ctx, conn, id, user); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundTrip is the floor BenchmarkSessionDefaultOrg compares with:
// one statement that reads nothing.
func BenchmarkRoundTrip(b *testing.B) {
	conn := dbtest.Open(b)
	var one int
	for b.Loop() {
		if err := conn.QueryRow(`SELECT 1`).Scan(&one); err != nil {
			b.Fatal(err)
		}
	}
}
