package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Options configure a benchmark run.
type Options struct {
	Size        string // S or M (or T: tiny, for tests)
	DatabaseURL string // any database of the Postgres server; the bench creates its own next to it
	RedisURL    string
	OutDir      string

	// DBName overrides the bench database's name (default warden_bench_<size>).
	// It is dropped and recreated at the start of the run.
	DBName string
	// DropAfter drops the bench database when the run ends (tests); by
	// default it is kept for inspection until the next run replaces it.
	DropAfter bool
	// Progress receives progress lines (default os.Stderr).
	Progress io.Writer
}

// sizeSpec is the shape of a generated org and how hard it is measured.
type sizeSpec struct {
	Name               string
	Members, Deals     int
	Accounts, Contacts int
	Depth              int // levels of the role tree, the top role included
	MidDepth           int // depth of the mid-level manager probe
	Groups, Nested     int
	OwnerRules         int
	CriteriaRules      int
	DealShareFrac      float64
	AccountShareFrac   float64
	Requests, Warmup   int // per query and viewer (Q1-Q4)
	Q5Clients          int
	Q5Duration         time.Duration
	Q6Trials           int // each trial measures the change and its reversal
	ProfileDuration    time.Duration
}

var specs = map[string]sizeSpec{
	// T keeps the pipeline honest in `make test`: every step runs, on a few
	// thousand records and with few requests (its figures mean nothing).
	"T": {Name: "T", Members: 60, Deals: 3000, Accounts: 300, Contacts: 750, Depth: 4, MidDepth: 2,
		Groups: 10, Nested: 4, OwnerRules: 8, CriteriaRules: 2, DealShareFrac: 0.10, AccountShareFrac: 0.05,
		Requests: 10, Warmup: 2, Q5Clients: 16, Q5Duration: 500 * time.Millisecond, Q6Trials: 3, ProfileDuration: time.Second},
	"S": {Name: "S", Members: 2000, Deals: 200000, Accounts: 20000, Contacts: 50000, Depth: 6, MidDepth: 3,
		Groups: 50, Nested: 20, OwnerRules: 40, CriteriaRules: 10, DealShareFrac: 0.10, AccountShareFrac: 0.05,
		Requests: 200, Warmup: 20, Q5Clients: 16, Q5Duration: 30 * time.Second, Q6Trials: 20, ProfileDuration: 10 * time.Second},
	"M": {Name: "M", Members: 10000, Deals: 1000000, Accounts: 100000, Contacts: 250000, Depth: 6, MidDepth: 3,
		Groups: 50, Nested: 20, OwnerRules: 40, CriteriaRules: 10, DealShareFrac: 0.10, AccountShareFrac: 0.05,
		Requests: 200, Warmup: 20, Q5Clients: 16, Q5Duration: 30 * time.Second, Q6Trials: 20, ProfileDuration: 10 * time.Second},
}

func specFor(size string) (sizeSpec, error) {
	s, ok := specs[strings.ToUpper(strings.TrimSpace(size))]
	if !ok {
		return sizeSpec{}, fmt.Errorf("bench: unknown size %q: want S or M (T for tests)", size)
	}
	return s, nil
}

// Run generates the org in a fresh database, serves it from two in-process
// instances and measures it through the HTTP GraphQL endpoint, then writes
// <OutDir>/<size>.json and <OutDir>/<size>.md. conn, when given, is used to
// drop and create the bench database; the bench never writes to conn's own
// database.
func Run(ctx context.Context, conn *sqlx.DB, opt Options) error {
	spec, err := specFor(opt.Size)
	if err != nil {
		return err
	}
	if opt.OutDir == "" {
		opt.OutDir = "bench-results"
	}
	if opt.Progress == nil {
		opt.Progress = os.Stderr
	}
	if opt.DBName == "" {
		opt.DBName = "warden_bench_" + strings.ToLower(spec.Name)
	}
	if err := os.MkdirAll(opt.OutDir, 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	// The server's access log (one line per request) is formatted as in
	// production but not printed: the bench prints its own progress.
	restore := quietServerLog(opt.Progress)
	defer restore()

	started := time.Now()
	e, err := setup(ctx, conn, opt, spec)
	if err != nil {
		return err
	}
	defer e.close(opt.DropAfter)

	rep, err := e.measureAll(ctx, opt.OutDir)
	if err != nil {
		return err
	}
	rep.StartedAt = started.UTC().Format(time.RFC3339)
	rep.DurationSeconds = time.Since(started).Seconds()
	jsonPath := filepath.Join(opt.OutDir, spec.Name+".json")
	mdPath := filepath.Join(opt.OutDir, spec.Name+".md")
	if err := rep.write(jsonPath, mdPath); err != nil {
		return err
	}
	e.logf("report written: %s, %s (%.0f s in all)", jsonPath, mdPath, rep.DurationSeconds)
	return nil
}

// quietServerLog sends the in-process servers' info logs (the per-request
// access log) to a JSON handler writing nowhere, and warnings and errors to
// w; it returns a function restoring the previous default logger.
func quietServerLog(w io.Writer) func() {
	prev := slog.Default()
	slog.SetDefault(slog.New(splitHandler{
		quiet: slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}),
		loud:  slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}),
	}))
	return func() { slog.SetDefault(prev) }
}

type splitHandler struct{ quiet, loud slog.Handler }

func (h splitHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.quiet.Enabled(ctx, l) || h.loud.Enabled(ctx, l)
}

func (h splitHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		return h.loud.Handle(ctx, r)
	}
	return h.quiet.Handle(ctx, r)
}

func (h splitHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return splitHandler{h.quiet.WithAttrs(as), h.loud.WithAttrs(as)}
}

func (h splitHandler) WithGroup(name string) slog.Handler {
	return splitHandler{h.quiet.WithGroup(name), h.loud.WithGroup(name)}
}
