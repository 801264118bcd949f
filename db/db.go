package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the Postgres driver
	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to Postgres and checks the connection.
func Open(ctx context.Context, url string) (*sqlx.DB, error) {
	d, err := sqlx.Open("postgres", ConnString(url))
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	d.SetMaxOpenConns(32)
	d.SetMaxIdleConns(32)
	d.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := d.PingContext(pingCtx); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return d, nil
}

func provider(d *sql.DB) (*goose.Provider, error) {
	// Out of order: migrations written on parallel branches land in any
	// order, and each is applied once whatever its number.
	return goose.NewProvider(goose.DialectPostgres, d, mustSub(migrations, "migrations"), goose.WithAllowOutofOrder(true))
}

// Migrate applies every migration not yet applied, each in its own transaction.
func Migrate(ctx context.Context, d *sqlx.DB) error {
	p, err := provider(d.DB)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// MigrationsPending reports whether the database lacks a migration this
// binary has (readiness: a server must not answer on an old schema).
func MigrationsPending(ctx context.Context, d *sqlx.DB) (bool, error) {
	p, err := provider(d.DB)
	if err != nil {
		return true, err
	}
	return p.HasPending(ctx)
}
