package bench

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"warden/access"
	"warden/api"
	"warden/auth"
	"warden/cache"
	"warden/db"
	"warden/ids"
	"warden/records"
	"warden/resolvers"
)

// instance is one Warden server, wired as server.go's serve does, on a
// loopback port.
type instance struct {
	name   string
	conn   *sqlx.DB
	rdb    *redis.Client
	engine *cache.Engine
	srv    *http.Server
	url    string // .../graphql
	cancel context.CancelFunc
}

func startInstance(ctx context.Context, name, dsn string, rdb *redis.Client, prefix string, secret []byte) (*instance, error) {
	conn, err := db.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	tokens, err := auth.NewIssuer(secret, 12*time.Hour, time.Now)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	engine := cache.NewEngine(conn)
	lctx, cancel := context.WithCancel(context.Background())
	if rdb != nil {
		engine.Redis, engine.Prefix = rdb, prefix
		go engine.Listen(lctx)
	}
	res := &resolvers.Resolver{DB: conn, Tokens: tokens, Cursors: records.CursorCodec{Secret: cursorKey(secret)}, Engine: engine}
	deps := api.Deps{Resolver: res, DB: conn, Limits: api.DefaultLimits, Production: true}
	if rdb != nil {
		deps.Redis = rdb
	}
	h := api.NewHandler(deps)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		_ = conn.Close()
		return nil, err
	}
	srv := &http.Server{Handler: labelled(name, h), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = srv.Serve(ln) }()
	return &instance{name: name, conn: conn, rdb: rdb, engine: engine, srv: srv,
		url: "http://" + ln.Addr().String() + "/graphql", cancel: cancel}, nil
}

// labelled marks the server's request goroutines for CPU profiles, so the
// profile can tell the server's work from the bench client's.
func labelled(name string, h http.Handler) http.Handler {
	labels := pprof.Labels("warden", "server", "instance", name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pprof.Do(r.Context(), labels, func(ctx context.Context) { h.ServeHTTP(w, r.WithContext(ctx)) })
	})
}

func (in *instance) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = in.srv.Shutdown(ctx)
	in.cancel()
	_ = in.conn.Close()
}

// cursorKey derives the cursor-signing key from the token secret, exactly
// as server.go does.
func cursorKey(secret []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("warden cursors"))
	return mac.Sum(nil)
}

// viewer is a probe viewer: a member acting through the API with a token.
type viewer struct {
	Name   string
	Member int64
	User   int64
	Depth  int
	Token  string
}

// env is a loaded org served by two instances.
type env struct {
	spec     sizeSpec
	opt      Options
	progress io.Writer

	adminDB  *sqlx.DB
	ownAdmin bool
	dbName   string
	dsn      string
	conn     *sqlx.DB // the bench's own pool on the bench database

	rdb         *redis.Client
	redisPrefix string
	redisNote   string

	gen     *orgGen
	orgID   string // public id
	secret  []byte
	issuer  *auth.Issuer
	a, b    *instance
	viewers []*viewer // admin, top, mid, leaf
	admin   *viewer
	client  *client

	loadSeconds      float64
	coldBuildSeconds float64
	redisWarmSeconds float64
	pgVersion        string
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.progress, "bench %s %s  %s\n", e.spec.Name, time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (e *env) viewer(name string) *viewer {
	for _, v := range e.viewers {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// setup creates the database, loads the org, starts both instances, warms
// them and picks the probe viewers.
func setup(ctx context.Context, conn *sqlx.DB, opt Options, spec sizeSpec) (_ *env, err error) {
	e := &env{spec: spec, opt: opt, progress: opt.Progress, dbName: opt.DBName, adminDB: conn}
	defer func() {
		if err != nil {
			e.close(true)
		}
	}()
	if !validDBName(e.dbName) {
		return nil, fmt.Errorf("bench: database name %q: want lowercase letters, digits and _", e.dbName)
	}
	u, err := url.Parse(opt.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("bench: DATABASE_URL: %w", err)
	}
	if e.adminDB == nil {
		admin := *u
		admin.Path = "/postgres"
		if e.adminDB, err = db.Open(ctx, admin.String()); err != nil {
			return nil, err
		}
		e.ownAdmin = true
	}
	bu := *u
	bu.Path = "/" + e.dbName
	e.dsn = bu.String()
	e.logf("fresh database %s", e.dbName)
	if _, err := e.adminDB.ExecContext(ctx, `DROP DATABASE IF EXISTS `+e.dbName+` WITH (FORCE)`); err != nil {
		return nil, fmt.Errorf("bench: drop database: %w", err)
	}
	if _, err := e.adminDB.ExecContext(ctx, `CREATE DATABASE `+e.dbName); err != nil {
		return nil, fmt.Errorf("bench: create database: %w", err)
	}
	if e.conn, err = db.Open(ctx, e.dsn); err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, e.conn); err != nil {
		return nil, err
	}
	_ = e.conn.GetContext(ctx, &e.pgVersion, `SELECT current_setting('server_version')`)

	e.gen = newOrgGen(spec)
	e.logf("generating and loading the org (COPY): %d members, %d deals, %d accounts, %d contacts",
		spec.Members, spec.Deals, spec.Accounts, spec.Contacts)
	t0 := time.Now()
	if err := e.gen.load(ctx, e.conn, e.logf); err != nil {
		return nil, fmt.Errorf("bench: load: %w", err)
	}
	tm := e.gen.Timing
	// The bulk load proper: everything but generating the rows in memory.
	e.loadSeconds = time.Since(t0).Seconds() - tm.Generate
	e.orgID = ids.Encode(ids.Org, e.gen.Org)
	e.logf("loaded in %.1f s: COPY %.1f s, index rebuild %.1f s, VACUUM ANALYZE %.1f s (generating the rows took another %.1f s)",
		e.loadSeconds, tm.Copy, tm.Indexes, tm.Vacuum, tm.Generate)

	// Redis: one prefix unique to the run, shared by both instances as by
	// the instances of one deployment.
	e.secret = make([]byte, 32)
	_, _ = rand.Read(e.secret)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	e.redisPrefix = fmt.Sprintf("warden-bench:%s:%s:", strings.ToLower(spec.Name), hex.EncodeToString(suffix))
	if ropt, err := redis.ParseURL(opt.RedisURL); err != nil {
		e.redisNote = fmt.Sprintf("REDIS_URL unusable (%v): instances ran without Redis", err)
	} else {
		rdb := redis.NewClient(ropt)
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		perr := rdb.Ping(pctx).Err()
		cancel()
		if perr != nil {
			_ = rdb.Close()
			e.redisNote = fmt.Sprintf("Redis unreachable (%v): instances ran without Redis", perr)
		} else {
			e.rdb = rdb
		}
	}
	if e.redisNote != "" {
		e.logf("%s", e.redisNote)
	}
	if e.issuer, err = auth.NewIssuer(e.secret, 12*time.Hour, time.Now); err != nil {
		return nil, err
	}
	for _, name := range []string{"A", "B"} {
		var rdb *redis.Client
		if e.rdb != nil {
			ropt, _ := redis.ParseURL(opt.RedisURL)
			rdb = redis.NewClient(ropt)
		}
		in, err := startInstance(ctx, name, e.dsn, rdb, e.redisPrefix, e.secret)
		if err != nil {
			if rdb != nil {
				_ = rdb.Close()
			}
			return nil, err
		}
		if name == "A" {
			e.a = in
		} else {
			e.b = in
		}
	}
	e.client = newClient()
	e.logf("instances: A %s, B %s", e.a.url, e.b.url)

	// Warm: A builds the org from Postgres; B restores A's copy from Redis.
	t0 = time.Now()
	if _, _, err := e.a.engine.State(ctx, e.gen.Org); err != nil {
		return nil, fmt.Errorf("bench: warm A: %w", err)
	}
	e.coldBuildSeconds = time.Since(t0).Seconds()
	if e.rdb != nil {
		key := e.redisPrefix + "org:" + strconv.FormatInt(e.gen.Org, 10) + ":state"
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if n, err := e.rdb.Exists(ctx, key).Result(); err == nil && n > 0 {
				break
			}
		}
	}
	t0 = time.Now()
	if _, _, err := e.b.engine.State(ctx, e.gen.Org); err != nil {
		return nil, fmt.Errorf("bench: warm B: %w", err)
	}
	e.redisWarmSeconds = time.Since(t0).Seconds()
	var indexMiB float64
	if _, ix, err := e.a.engine.State(ctx, e.gen.Org); err == nil {
		indexMiB = float64(ix.SizeBytes()) / (1 << 20)
	}
	e.logf("warm: A built the index from Postgres in %.2f s (%.1f MiB); B warmed in %.2f s (Redis hits %d)",
		e.coldBuildSeconds, indexMiB, e.redisWarmSeconds, e.b.engine.Stats.RedisHits.Load())

	if err := e.pickViewers(); err != nil {
		return nil, err
	}
	e.gen.dropBulk()
	return e, nil
}

func validDBName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// pickViewers chooses the probe viewers: the administrator, the manager of
// the first depth-1 role, the manager of the first role at the mid depth,
// and the leaf rep (no peers) whose deal count is the median of leaf reps.
func (e *env) pickViewers() error {
	g := e.gen
	add := func(name string, mi int) error {
		m := g.Members[mi]
		tok, err := e.signIn(m.User)
		if err != nil {
			return err
		}
		v := &viewer{Name: name, Member: m.ID, User: m.User, Depth: g.Roles[m.Role].Depth, Token: tok}
		e.viewers = append(e.viewers, v)
		return nil
	}
	if err := add("admin", 0); err != nil {
		return err
	}
	e.admin = e.viewers[0]
	managerAt := func(depth int) (int, error) {
		for _, ri := range g.rolesAt(depth) {
			if ms := g.MembersByRole[ri]; len(ms) > 0 {
				return ms[0], nil
			}
		}
		return 0, fmt.Errorf("bench: no member at depth %d", depth)
	}
	top, err := managerAt(1)
	if err != nil {
		return err
	}
	mid, err := managerAt(e.spec.MidDepth)
	if err != nil {
		return err
	}
	var reps []int
	for _, ri := range g.rolesAt(e.spec.Depth - 1) {
		if !g.Roles[ri].Peers {
			reps = append(reps, g.MembersByRole[ri]...)
		}
	}
	if len(reps) == 0 {
		return errors.New("bench: no leaf reps")
	}
	sort.SliceStable(reps, func(i, j int) bool { return g.ownedDeals[reps[i]] < g.ownedDeals[reps[j]] })
	leaf := reps[len(reps)/2]
	for _, x := range []struct {
		name string
		mi   int
	}{{"top", top}, {"mid", mid}, {"leaf", leaf}} {
		if err := add(x.name, x.mi); err != nil {
			return err
		}
	}
	return nil
}

// visibleSet is the viewer's visible deals according to instance A's engine.
func (e *env) visibleSet(ctx context.Context, member int64) (access.VisibleSet, error) {
	snap, ix, err := e.a.engine.State(ctx, e.gen.Org)
	if err != nil {
		return access.VisibleSet{}, err
	}
	return snap.VisibleSet(ix, member, access.Deals), nil
}

func (e *env) close(drop bool) {
	if e.a != nil {
		e.a.close()
	}
	if e.b != nil {
		e.b.close()
	}
	for _, in := range []*instance{e.a, e.b} {
		if in != nil && in.rdb != nil {
			_ = in.rdb.Close()
		}
	}
	if e.rdb != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var keys []string
		iter := e.rdb.Scan(ctx, 0, e.redisPrefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			_ = e.rdb.Del(ctx, keys...).Err()
		}
		cancel()
		_ = e.rdb.Close()
	}
	if e.conn != nil {
		_ = e.conn.Close()
	}
	if drop && e.adminDB != nil && e.dbName != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, _ = e.adminDB.ExecContext(ctx, `DROP DATABASE IF EXISTS `+e.dbName+` WITH (FORCE)`)
		cancel()
	}
	if e.ownAdmin && e.adminDB != nil {
		_ = e.adminDB.Close()
	}
	if e.client != nil {
		e.client.hc.CloseIdleConnections()
	}
}

// signIn issues a token for the user as sign-in does: with its session row,
// without which the server refuses the token.
func (e *env) signIn(user int64) (string, error) {
	sid, err := auth.NewSessionID()
	if err != nil {
		return "", err
	}
	tok, exp, err := e.issuer.IssueSession(user, sid)
	if err != nil {
		return "", err
	}
	now := time.Now()
	return tok, db.CreateSession(context.Background(), e.conn, db.Session{ID: sid, UserID: user, AuthenticatedAt: now, CreatedAt: now, ExpiresAt: exp})
}
