package bench

import (
	"context"
	"errors"

	"github.com/jmoiron/sqlx"
)

// Options configure a benchmark run.
type Options struct {
	Size        string // S or M
	DatabaseURL string
	RedisURL    string
	OutDir      string
}

// Run generates the org and measures it (in progress).
func Run(ctx context.Context, conn *sqlx.DB, opt Options) error {
	return errors.New("bench: not implemented yet")
}
