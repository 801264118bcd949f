package faults

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"warden/api/apitest"
	"warden/db/dbtest"
	"warden/ids"
)

// The interrupted-mutation test runs the real handler in-process over a
// database driver that, once armed, injects a fault at the k-th point of a
// request: a statement, the start of a transaction or its commit. A fault
// either cancels the request's context (as a client hanging up or the
// request timeout does) or closes the connection to Postgres under the
// statement (as a network failure or a killed backend does).

type faultMode string

const (
	faultCancel faultMode = "cancel the request context"
	faultKill   faultMode = "close the database connection"
)

// faultPlan is the armed fault; one request runs at a time while armed.
var faultPlan struct {
	mu    sync.Mutex
	armed bool
	at    int // fault at this point (1-based) of the armed request
	seen  int
	mode  faultMode
	fired bool
	trail []string // each point passed: its statement, abridged, for failure messages
}

func arm(at int, mode faultMode) {
	faultPlan.mu.Lock()
	defer faultPlan.mu.Unlock()
	faultPlan.armed, faultPlan.at, faultPlan.seen, faultPlan.mode, faultPlan.fired = true, at, 0, mode, false
	faultPlan.trail = nil
}

// disarm returns how many points the request passed, whether the fault
// fired, and the points' statements.
func disarm() (points int, fired bool, trail string) {
	faultPlan.mu.Lock()
	defer faultPlan.mu.Unlock()
	faultPlan.armed = false
	return faultPlan.seen, faultPlan.fired, strings.Join(faultPlan.trail, "; ")
}

// armedRequestKey is the server-side context key of the armed request:
// its cancel function. Only statements run with that request's context are
// fault points, so that a goroutine left over from an earlier request can
// neither take a point nor shift the numbering from one attempt to the next.
type armedRequestKey struct{}

// armedHeader marks the request the armed fault is for.
const armedHeader = "X-Fault-Armed"

// armedPostKey marks a client context whose request carries armedHeader.
type armedPostKey struct{}

func armedContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, armedPostKey{}, true)
}

// withRequestCancel gives the armed request a context the driver can cancel.
func withRequestCancel(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(armedHeader) == "" {
			h.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		h.ServeHTTP(w, r.WithContext(context.WithValue(ctx, armedRequestKey{}, context.CancelFunc(cancel))))
	})
}

// point is one fault point of the armed request: the fault fires when it is
// the armed one.
func point(ctx context.Context, c *faultConn, statement string) {
	cancel, ofArmedRequest := ctx.Value(armedRequestKey{}).(context.CancelFunc)
	if !ofArmedRequest {
		return
	}
	faultPlan.mu.Lock()
	if !faultPlan.armed {
		faultPlan.mu.Unlock()
		return
	}
	faultPlan.seen++
	if f := strings.Fields(statement); len(f) > 6 {
		statement = strings.Join(f[:6], " ") + " …"
	}
	faultPlan.trail = append(faultPlan.trail, fmt.Sprintf("%d: %s", faultPlan.seen, statement))
	fire := faultPlan.seen == faultPlan.at
	if fire {
		faultPlan.fired = true
	}
	mode := faultPlan.mode
	faultPlan.mu.Unlock()
	if !fire {
		return
	}
	switch mode {
	case faultCancel:
		cancel()
	case faultKill:
		_ = c.net.Close()
	}
}

var registerFaultDriver sync.Once

const faultDriverName = "postgres-faults"

type faultDriver struct{}

// recordingDialer remembers the connection pq dials first (the session's;
// later dials are for cancel requests).
type recordingDialer struct {
	mu   sync.Mutex
	conn net.Conn
}

func (d *recordingDialer) keep(c net.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		d.conn = c
	}
}

func (d *recordingDialer) Dial(network, address string) (net.Conn, error) {
	c, err := net.Dial(network, address)
	if err == nil {
		d.keep(c)
	}
	return c, err
}

func (d *recordingDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout(network, address, timeout)
	if err == nil {
		d.keep(c)
	}
	return c, err
}

func (d *recordingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, address)
	if err == nil {
		d.keep(c)
	}
	return c, err
}

func (faultDriver) Open(name string) (driver.Conn, error) {
	d := &recordingDialer{}
	c, err := pq.DialOpen(d, name)
	if err != nil {
		return nil, err
	}
	return &faultConn{Conn: c, net: d.conn}, nil
}

type faultConn struct {
	driver.Conn
	net net.Conn
}

type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.QueryerContext
	driver.ExecerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

func (c *faultConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	point(ctx, c, "BEGIN")
	tx, err := c.Conn.(pqConn).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &faultTx{Tx: tx, ctx: ctx, c: c}, nil
}

func (c *faultConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	point(ctx, c, q)
	return c.Conn.(pqConn).QueryContext(ctx, q, args)
}

func (c *faultConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	point(ctx, c, q)
	return c.Conn.(pqConn).ExecContext(ctx, q, args)
}

func (c *faultConn) Ping(ctx context.Context) error { return c.Conn.(pqConn).Ping(ctx) }

func (c *faultConn) ResetSession(ctx context.Context) error {
	return c.Conn.(pqConn).ResetSession(ctx)
}

func (c *faultConn) IsValid() bool { return c.Conn.(pqConn).IsValid() }

func (c *faultConn) CheckNamedValue(nv *driver.NamedValue) error {
	if chk, ok := c.Conn.(driver.NamedValueChecker); ok {
		return chk.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// faultTx makes the commit a fault point too.
type faultTx struct {
	driver.Tx
	ctx context.Context
	c   *faultConn
}

func (t *faultTx) Commit() error {
	point(t.ctx, t.c, "COMMIT")
	return t.Tx.Commit()
}

// errorsCarryCodes reports whether r is an error answer whose every error
// has a code, as api.md promises of every failure.
func errorsCarryCodes(r *gqlResponse) bool {
	if r == nil || len(r.Errors) == 0 {
		return false
	}
	for _, e := range r.Errors {
		if code, _ := e.Extensions["code"].(string); code == "" {
			return false
		}
	}
	return true
}

// rowCounts are the org's rows a mutation may write.
type rowCounts map[string]int

var countedTables = []string{"deals", "record_shares", "sharing_rules", "security_changes", "audit_log"}

func countRows(t testing.TB, conn *sqlx.DB, org int64) rowCounts {
	t.Helper()
	out := rowCounts{}
	for _, table := range countedTables {
		var n int
		if err := conn.Get(&n, `SELECT count(*) FROM `+table+` WHERE org_id = $1`, org); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

func (c rowCounts) minus(o rowCounts) rowCounts {
	out := rowCounts{}
	for k, v := range c {
		out[k] = v - o[k]
	}
	return out
}

func (c rowCounts) zero() bool {
	for _, v := range c {
		if v != 0 {
			return false
		}
	}
	return true
}

func (c rowCounts) String() string {
	var parts []string
	for _, table := range countedTables {
		parts = append(parts, fmt.Sprintf("%s %+d", table, c[table]))
	}
	return strings.Join(parts, ", ")
}

func (c rowCounts) equal(o rowCounts) bool { return c.minus(o).zero() }

// TestInterruptedMutationAllOrNothing interrupts an administration
// mutation (shareRecords, createSharingRule) and a bulk record write
// (importRecords) at every point of their requests, in both ways, and
// checks that each attempt wrote all of its rows (records, shares, rules,
// security changes, audit entries) or none; an attempt answered ok wrote all.
func TestInterruptedMutationAllOrNothing(t *testing.T) {
	registerFaultDriver.Do(func() { sql.Register(faultDriverName, faultDriver{}) })
	// The in-process server logs every interrupted request as an error.
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	dsn, _ := dbtest.NewDatabase(t)
	conn, err := sqlx.Open(faultDriverName, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	conn.SetMaxOpenConns(8)
	// No Redis: nothing runs in the background, so a request's fault
	// points are the same from one attempt to the next.
	srv := httptest.NewServer(withRequestCancel(apitest.NewHandlerWith(t, conn, "", nil)))
	t.Cleanup(srv.Close)
	url := srv.URL + "/graphql"
	o := setupOrg(t, url, dsn)
	viewer := ids.Encode(ids.Member, o.viewerMember)

	// Fresh deals for each shareRecords attempt, created unarmed.
	freshDeals := func(n int, tag string) []string {
		var out []string
		for i := 0; i < n; i++ {
			var cd struct{ CreateDeal struct{ ID string } }
			mustPost(t, url, o.owner, o.id, createDealMut, map[string]any{"in": map[string]any{"name": fmt.Sprintf("%s %d", tag, i)}}, &cd)
			out = append(out, cd.CreateDeal.ID)
		}
		return out
	}
	const ruleMut = `mutation($in: CreateSharingRuleInput!) { createSharingRule(input: $in) { id } }`
	const importMut = `mutation($csv: String!) { importRecords(module: DEALS, csv: $csv) { ok created } }`
	cases := []struct {
		name string
		// prepare builds attempt i's input (unarmed) and returns the request.
		prepare func(i int) (query string, vars map[string]any)
	}{
		{"shareRecords (3 deals)", func(i int) (string, map[string]any) {
			return shareMut, map[string]any{"ids": freshDeals(3, fmt.Sprintf("share %d", i)), "p": viewer}
		}},
		{"createSharingRule", func(i int) (string, map[string]any) {
			return ruleMut, map[string]any{"in": map[string]any{"module": "DEALS", "name": fmt.Sprintf("rule %d", i),
				"source": map[string]any{"type": "USER", "id": viewer}, "target": map[string]any{"type": "USER", "id": viewer}, "access": "READ_ONLY"}}
		}},
		{"importRecords (5 rows)", func(i int) (string, map[string]any) {
			var b strings.Builder
			b.WriteString("name,amount,stage\n")
			for r := 0; r < 5; r++ {
				fmt.Fprintf(&b, "import %d-%d,%d,Prospecting\n", i, r, 100+r)
			}
			return importMut, map[string]any{"csv": b.String()}
		}},
	}
	attempt := 0
	var table strings.Builder
	table.WriteString("\n### Mutations interrupted at every point\n\n")
	table.WriteString("| mutation | fault points | rows of a whole run | faults injected | wrote all | wrote nothing | partial | answered ok |\n|---|---|---|---|---|---|---|---|\n")
	defer func() {
		table.WriteString("\nFaults: the request's context cancelled (as a client hanging up or the request timeout does), and the connection to Postgres closed under the statement (as a network failure or a killed backend does), at each point of the request: a statement, a transaction's start or its commit. Rows counted in the org: deals, record_shares, sharing_rules, security_changes, audit_log. An attempt that wrote everything but was not answered ok met its fault after the commit.\n")
		appendReport(t, table.String())
	}()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A clean run: how many points the request passes, and what it writes.
			attempt++
			query, vars := tc.prepare(attempt)
			before := countRows(t, o.conn, o.key)
			arm(1<<30, faultCancel)
			r, err := post(armedContext(context.Background()), url, o.owner, o.id, query, vars)
			points, _, _ := disarm()
			if out, detail := classify(r, err); out != outOK {
				t.Fatalf("clean run: %s", detail)
			}
			want := countRows(t, o.conn, o.key).minus(before)
			if want["audit_log"] == 0 {
				t.Fatalf("clean run wrote no audit entry: %v", want)
			}
			var all, none, partial, okAnswers int
			for _, mode := range []faultMode{faultCancel, faultKill} {
				for k := 1; k <= points; k++ {
					attempt++
					query, vars := tc.prepare(attempt)
					before := countRows(t, o.conn, o.key)
					arm(k, mode)
					r, err := post(armedContext(context.Background()), url, o.owner, o.id, query, vars)
					_, fired, trail := disarm()
					outcome, detail := classify(r, err)
					got := countRows(t, o.conn, o.key).minus(before)
					switch {
					case got.equal(want):
						all++
					case got.zero():
						none++
					default:
						partial++
						t.Errorf("%s at point %d of %d: partial write %v (whole: %v); answer: %s %s; points: %s", mode, k, points, got, want, outcome, detail, trail)
					}
					if outcome == outOK {
						okAnswers++
						if !got.equal(want) {
							t.Errorf("%s at point %d: answered ok but wrote %v, want %v; points: %s", mode, k, got, want, trail)
						}
					}
					if outcome == outDropped || outcome == outRefused {
						t.Errorf("%s at point %d: no answer: %s", mode, k, detail)
					}
					if outcome != outOK && !errorsCarryCodes(r) {
						t.Errorf("%s at point %d: not a GraphQL error with a code: %s; points: %s", mode, k, detail, trail)
					}
					if !fired && outcome != outOK {
						t.Errorf("%s at point %d: no fault fired yet the request failed: %s; points: %s", mode, k, detail, trail)
					}
				}
			}
			fmt.Fprintf(&table, "| %s | %d | %v | %d (each point, both kinds) | %d | %d | %d | %d |\n",
				tc.name, points, want, 2*points, all, none, partial, okAnswers)
			if none == 0 {
				t.Error("no interrupted attempt wrote nothing: did the faults fire?")
			}
		})
	}
}
