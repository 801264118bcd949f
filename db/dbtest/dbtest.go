// Package dbtest gives each test its own freshly migrated Postgres database
// and its own Redis key prefix, so test packages run in parallel on one server.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"warden/db"
)

// AdminURL is the Postgres URL tests create their databases through.
func AdminURL() string {
	if u := os.Getenv("WARDEN_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// RedisURL is the Redis tests use.
func RedisURL() string {
	if u := os.Getenv("WARDEN_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/15"
}

// RandomName returns a short random lowercase name with the prefix.
func RandomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// NewDatabase creates an empty, migrated database for the test, dropped when
// the test ends, and returns its URL and a connection to it.
func NewDatabase(t testing.TB) (string, *sqlx.DB) {
	t.Helper()
	ctx := context.Background()
	admin, err := sqlx.Open("postgres", AdminURL())
	if err != nil {
		t.Fatalf("open admin database: %v", err)
	}
	defer admin.Close()
	name := RandomName("warden_test_")
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database (is Postgres running? run `make test`): %v", err)
	}
	u, err := url.Parse(AdminURL())
	if err != nil {
		t.Fatalf("parse admin url: %v", err)
	}
	u.Path = "/" + name
	dsn := u.String()
	conn, err := db.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("connect test database: %v", err)
	}
	if err := db.Migrate(ctx, conn); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		a, err := sqlx.Open("postgres", AdminURL())
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return dsn, conn
}

// Open is NewDatabase without the URL.
func Open(t testing.TB) *sqlx.DB {
	_, d := NewDatabase(t)
	return d
}

// RedisPrefix is a key prefix no other test uses.
func RedisPrefix() string { return strings.ToLower(RandomName("wt:")) + ":" }
