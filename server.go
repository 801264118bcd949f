// Command warden is the Warden CRM server.
//
//	warden [serve] [--seed]   migrate, optionally seed the demo, and serve
//	warden migrate            apply database migrations and exit
//	warden seed               load the demo data (once) and exit
//	warden bench [--size S|M] generate a large org and measure secured requests
//	warden soak [--size S] [--minutes 10] [--clients 64] [--writes 20]
//	                          the bench org under mixed reads and writes for minutes
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"warden/api"
	"warden/auth"
	"warden/bench"
	"warden/cache"
	"warden/db"
	"warden/demo"
	"warden/ratelimit"
	"warden/records"
	"warden/resolvers"
)

// config is read from the environment; every setting has a default that
// works on a developer's machine.
type config struct {
	DatabaseURL string
	RedisURL    string
	RedisPrefix string
	ListenAddr  string
	TokenSecret string
	TokenTTL    time.Duration
	Production  bool
	Playground  bool
	LogLevel    slog.Level
	// Single sign-on with an OpenID Connect provider: off unless both the
	// issuer URL and the client id are set.
	OIDCIssuerURL      string
	OIDCClientID       string
	OIDCAllowedDomains []string // "*" allows any domain
	// Hostile-client limits: request shape, request budgets, login
	// back-off and the browser origins allowed.
	Limits      api.Limits
	RateLimits  api.RateLimits
	Login       ratelimit.LoginPolicy
	CORSOrigins []string
	// ShutdownDrain is how long a SIGTERM'd server keeps serving, with
	// readiness failing and connections closed after each response,
	// before it stops accepting.
	ShutdownDrain time.Duration
}

func loadConfig() (config, error) {
	c := config{
		DatabaseURL: env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/warden?sslmode=disable"),
		RedisURL:    env("REDIS_URL", "redis://127.0.0.1:6379/0"),
		RedisPrefix: env("REDIS_PREFIX", "warden:"),
		ListenAddr:  env("LISTEN_ADDR", ":8080"),
		TokenSecret: os.Getenv("TOKEN_SECRET"),
		Production:  env("WARDEN_ENV", "development") == "production",
	}
	ttl, err := time.ParseDuration(env("TOKEN_TTL", "12h"))
	if err != nil || ttl < time.Minute {
		return c, fmt.Errorf("TOKEN_TTL: want a duration of at least 1m, such as 12h")
	}
	c.TokenTTL = ttl
	drain, err := time.ParseDuration(env("SHUTDOWN_DRAIN", "2s"))
	if err != nil || drain < 0 || drain > time.Minute {
		return c, fmt.Errorf("SHUTDOWN_DRAIN: want a duration from 0s to 1m, such as 2s")
	}
	c.ShutdownDrain = drain
	c.Playground = env("PLAYGROUND", map[bool]string{true: "false", false: "true"}[c.Production]) == "true"
	if err := c.LogLevel.UnmarshalText([]byte(env("LOG_LEVEL", "info"))); err != nil {
		return c, fmt.Errorf("LOG_LEVEL: want debug, info, warn or error")
	}
	c.OIDCIssuerURL, c.OIDCClientID = env("OIDC_ISSUER_URL", ""), env("OIDC_CLIENT_ID", "")
	for _, d := range strings.Split(env("OIDC_ALLOWED_EMAIL_DOMAINS", ""), ",") {
		if d = strings.TrimSpace(d); d != "" {
			c.OIDCAllowedDomains = append(c.OIDCAllowedDomains, d)
		}
	}
	if err := loadLimits(&c); err != nil {
		return c, err
	}
	if (c.OIDCIssuerURL == "") != (c.OIDCClientID == "") {
		return c, fmt.Errorf("OIDC_ISSUER_URL and OIDC_CLIENT_ID: set both to turn single sign-on on, or neither")
	}
	if c.OIDCIssuerURL != "" && len(c.OIDCAllowedDomains) == 0 {
		return c, fmt.Errorf(`OIDC_ALLOWED_EMAIL_DOMAINS: name the email domains that may sign in (comma-separated), or "*" for any`)
	}
	return c, nil
}

// loadLimits reads the limits against hostile or runaway clients; each has
// a default that suits interactive clients and scripts.
func loadLimits(c *config) error {
	c.Limits, c.Login = api.DefaultLimits, ratelimit.DefaultLoginPolicy
	ints := []struct {
		key string
		dst *int
	}{
		{"MAX_COMPLEXITY", &c.Limits.MaxComplexity}, {"MAX_DEPTH", &c.Limits.MaxDepth},
		{"MAX_FIELDS", &c.Limits.MaxFields}, {"MAX_ALIASES", &c.Limits.MaxAliases},
		{"MAX_TOKENS", &c.Limits.MaxTokens},
		{"LOGIN_FREE_FAILURES_PER_EMAIL", &c.Login.FreeFailuresPerEmail},
		{"LOGIN_FREE_FAILURES_PER_IP", &c.Login.FreeFailuresPerIP},
	}
	c.RateLimits.PerIP.PerMinute, c.RateLimits.PerUser.PerMinute = 1200, 600
	ints = append(ints, []struct {
		key string
		dst *int
	}{{"RATE_LIMIT_PER_IP", &c.RateLimits.PerIP.PerMinute}, {"RATE_LIMIT_PER_USER", &c.RateLimits.PerUser.PerMinute}}...)
	for _, it := range ints {
		if v := os.Getenv(it.key); v != "" {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				return fmt.Errorf("%s: want a whole number, 0 or more (0: no limit)", it.key)
			}
			*it.dst = n
		}
	}
	if v := os.Getenv("MAX_BODY_BYTES"); v != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 1024 {
			return fmt.Errorf("MAX_BODY_BYTES: want a number of bytes, at least 1024")
		}
		c.Limits.MaxBodyBytes = n
	}
	durations := []struct {
		key string
		dst *time.Duration
	}{{"REQUEST_TIMEOUT", &c.Limits.RequestTimeout}, {"LOGIN_BACKOFF_MAX", &c.Login.Max}}
	for _, it := range durations {
		if v := os.Getenv(it.key); v != "" {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil || d < time.Second {
				return fmt.Errorf("%s: want a duration of at least 1s, such as 30s", it.key)
			}
			*it.dst = d
		}
	}
	proxies, err := ratelimit.ParsePrefixes(os.Getenv("TRUSTED_PROXIES"))
	if err != nil {
		return fmt.Errorf("TRUSTED_PROXIES: want comma-separated addresses or CIDRs: %w", err)
	}
	c.RateLimits.TrustedProxies = proxies
	for _, o := range strings.Split(os.Getenv("CORS_ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			if o != "*" && !strings.HasPrefix(o, "https://") && !strings.HasPrefix(o, "http://") {
				return fmt.Errorf("CORS_ALLOWED_ORIGINS: %q is not an origin such as https://app.example.com", o)
			}
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	return nil
}

func env(key, def string) string {
	if v := strings.TrimSpace(os.Getenv(key)); v != "" {
		return v
	}
	return def
}

// defaultGCPercent is the garbage collector's target when GOGC is not set.
// Most of Warden's heap is the access index: long-lived, made of many small
// bitmap objects, so a GC cycle's marking is long whatever little garbage a
// request or a catch-up leaves (for the M bench process, two instances warm,
// a forced collection: 55-95 ms of wall time and 100-180 ms of CPU on 2
// cores; 140-210 ms and 270-390 ms before the index kept children as
// slices). At Go's default of 100 a cycle starts every time the heap grows
// by its live size; at 300 one in three of those does, for up to four times
// the live heap in memory instead of two. Measured with make bench SIZE=M:
// at 100, two of Q6's five kinds had a cycle inside their trials and missed
// their 10 ms p99 (updateGroup 14.4, updateMember 15.5 ms), against at most
// one kind per run in three runs at 300; Q5 was the same; process RSS 288
// against 373-376 MiB. (Before the slices, at 100 against 300: Q5 10-25%
// lower, RSS 414-419 against 519 MiB.) Set GOGC (and GOMEMLIMIT to cap
// memory) to choose otherwise.
const defaultGCPercent = 300

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	if err := run(os.Args[1:]); err != nil {
		slog.Error("warden", "err", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	seed := fs.Bool("seed", false, "serve: load the demo data first when the database has none")
	size := fs.String("size", "S", "bench: S (2,000 members, 200,000 deals) or M (10,000 members, 1,000,000 deals)")
	out := fs.String("out", "bench-results", "bench: where the report is written")
	minutes := fs.Float64("minutes", 10, "soak: how long the clients run")
	clients := fs.Int("clients", 64, "soak: concurrent clients")
	writes := fs.Float64("writes", 20, "soak: percent of requests that write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	slog.SetDefault(slog.New(api.LogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	conn, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := db.Migrate(ctx, conn); err != nil {
		return err
	}
	switch cmd {
	case "migrate":
		slog.Info("migrations applied")
		return nil
	case "seed":
		return seedDemo(ctx, conn)
	case "bench":
		return bench.Run(ctx, conn, bench.Options{Size: *size, DatabaseURL: cfg.DatabaseURL, RedisURL: cfg.RedisURL, OutDir: *out})
	case "soak":
		_, err := bench.Soak(ctx, conn, bench.SoakOptions{Options: bench.Options{Size: *size, DatabaseURL: cfg.DatabaseURL,
			RedisURL: cfg.RedisURL, OutDir: *out}, Duration: time.Duration(*minutes * float64(time.Minute)), Clients: *clients, WritePercent: *writes})
		return err
	case "serve":
		if *seed {
			if err := seedDemo(ctx, conn); err != nil {
				return err
			}
		}
		return serve(ctx, cfg, conn)
	}
	return fmt.Errorf("unknown command %q: want serve, migrate, seed, bench or soak", cmd)
}

func seedDemo(ctx context.Context, conn *sqlx.DB) error {
	created, err := demo.Seed(ctx, conn)
	if err != nil {
		return err
	}
	if created {
		slog.Info("demo data loaded: sign in as " + demo.OwnerEmail + " / " + demo.Password)
	}
	return nil
}

func serve(ctx context.Context, cfg config, conn *sqlx.DB) error {
	secret, err := auth.LoadOrCreateSecret(cfg.TokenSecret, auth.DefaultSecretPath, cfg.Production)
	if err != nil {
		return err
	}
	tokens, err := auth.NewIssuer(secret, cfg.TokenTTL, time.Now)
	if err != nil {
		return err
	}
	// Rotating the signing secret: the old one, listed here for one token
	// lifetime, keeps signed-in users signed in. (Cursors are signed with a
	// key derived from the current secret: old ones are refused, and a client
	// starts its list again.)
	if prev := strings.TrimSpace(os.Getenv("TOKEN_SECRET_PREVIOUS")); prev != "" {
		if err := tokens.AcceptPrevious([]byte(prev)); err != nil {
			return fmt.Errorf("TOKEN_SECRET_PREVIOUS: %w", err)
		}
	}
	var rdb redis.UniversalClient
	if opt, err := redis.ParseURL(cfg.RedisURL); err == nil {
		rdb = redis.NewClient(opt)
		defer rdb.Close()
	} else {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	engine := cache.NewEngine(conn)
	engine.Redis, engine.Prefix = rdb, cfg.RedisPrefix
	go engine.Listen(ctx)
	res := &resolvers.Resolver{DB: conn, Tokens: tokens, Cursors: records.CursorCodec{Secret: cursorKey(secret)}, Engine: engine}
	res.LoginThrottle = ratelimit.NewLoginThrottle(rdb, cfg.RedisPrefix+"rate:", cfg.Login, time.Now)
	if cfg.OIDCIssuerURL != "" {
		if res.SSO, err = auth.NewOIDC(auth.OIDCConfig{IssuerURL: cfg.OIDCIssuerURL, ClientID: cfg.OIDCClientID,
			AllowedDomains: cfg.OIDCAllowedDomains}); err != nil {
			return err
		}
	}
	h := api.NewHandler(api.Deps{Resolver: res, DB: conn, Redis: rdb, Limits: cfg.Limits,
		Production: cfg.Production, Playground: cfg.Playground, RateLimits: cfg.RateLimits, CORSOrigins: cfg.CORSOrigins})
	var draining atomic.Bool
	srv := &http.Server{Addr: cfg.ListenAddr, Handler: drainable(&draining, h), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	slog.Info("warden serving", "addr", cfg.ListenAddr, "playground", cfg.Playground)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// SIGTERM: first drain (readiness fails, every response closes its
	// connection), so that clients and load balancers stop reusing
	// keep-alive connections while the server still reads them; then stop
	// accepting and let in-flight requests finish. Closing a keep-alive
	// connection at once races a client sending its next request on it,
	// which then gets no answer.
	draining.Store(true)
	slog.Info("warden draining", "for", cfg.ShutdownDrain.String())
	time.Sleep(cfg.ShutdownDrain)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	slog.Info("warden stopped")
	return nil
}

// drainable answers /readyz with 503 and closes each connection after its
// response while draining is set.
func drainable(draining *atomic.Bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			w.Header().Set("Connection", "close")
			if r.URL.Path == "/readyz" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"status":"draining"}`))
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// cursorKey derives the cursor-signing key from the token secret, so one
// secret never signs two kinds of things.
func cursorKey(secret []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("warden cursors"))
	return mac.Sum(nil)
}
