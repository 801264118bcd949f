package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"warden/db"
	"warden/ids"
)

// scale is the load of a scenario: the short version in plain `go test`,
// the long one with WARDEN_FAULTS_LONG set.
func scale() (clients int, phase time.Duration) {
	if os.Getenv("WARDEN_FAULTS_LONG") == "" {
		return 8, 2 * time.Second
	}
	secs, err := strconv.Atoi(os.Getenv("WARDEN_FAULTS_SECONDS"))
	if err != nil || secs <= 0 {
		secs = 60
	}
	return 64, time.Duration(secs) * time.Second
}

// ------------------------------------------------------------------ client

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

var httpClient = &http.Client{
	Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute},
	// Far above the server's own request timeout: a request that hangs
	// shows as slow, it is not cut short by the client.
	Timeout: 2 * time.Minute,
}

// post sends a GraphQL request; err is a transport failure (no HTTP
// response).
func post(ctx context.Context, url, token, org, query string, vars map[string]any) (*gqlResponse, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if org != "" {
		req.Header.Set("X-Org-ID", org)
	}
	if ctx.Value(armedPostKey{}) != nil {
		req.Header.Set(armedHeader, "1")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := &gqlResponse{}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("HTTP %d, undecodable body %q: %w", resp.StatusCode, raw, err)
	}
	out.Status = resp.StatusCode
	return out, nil
}

// mustPost sends a request that must succeed and decodes its data.
func mustPost(t testing.TB, url, token, org, query string, vars map[string]any, out any) {
	t.Helper()
	r, err := post(context.Background(), url, token, org, query, vars)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("%s: HTTP %d, errors %+v", query, r.Status, r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatalf("%s: decode %s: %v", query, r.Data, err)
		}
	}
}

// postRetrying sends a request until it succeeds, retrying (as a client
// should) while the answer is a retryable error; it returns how many tries
// it took and how long.
func postRetrying(t testing.TB, url, token, org, query string, vars map[string]any) (tries int, took time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		tries++
		r, err := post(context.Background(), url, token, org, query, vars)
		outcome, detail := classify(r, err)
		switch {
		case outcome == outOK:
			return tries, time.Since(start)
		case outcome != outRetryable:
			t.Fatalf("%s: %s", query, detail)
		case time.Since(start) > 2*time.Minute:
			t.Fatalf("%s: still failing after %d tries: %s", query, tries, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Outcomes of a request under load.
const (
	outOK        = "ok"
	outRetryable = "retryable" // INTERNAL with extensions.retryable = true (HTTP 200 or 503)
	outError     = "error"     // any other error, or a wrong answer
	outRefused   = "refused"   // the connection was refused: nothing was sent
	outDropped   = "dropped"   // the request was sent and no response came back
)

// classify names the outcome of a request.
func classify(r *gqlResponse, err error) (outcome, detail string) {
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return outRefused, err.Error()
		}
		return outDropped, err.Error()
	}
	if len(r.Errors) == 0 {
		if r.Status != http.StatusOK {
			return outError, fmt.Sprintf("HTTP %d without errors", r.Status)
		}
		if len(r.Data) == 0 || string(r.Data) == "null" {
			// Not a GraphQL answer (gqlgen's bare null for an operation
			// whose request was over before it started, for one).
			return outError, "HTTP 200 with neither data nor errors"
		}
		return outOK, ""
	}
	e := r.Errors[0]
	code, _ := e.Extensions["code"].(string)
	detail = fmt.Sprintf("HTTP %d %s: %s", r.Status, code, e.Message)
	if retry, _ := e.Extensions["retryable"].(bool); retry && code == "INTERNAL" &&
		(r.Status == http.StatusOK || r.Status == http.StatusServiceUnavailable) {
		return outRetryable, detail
	}
	return outError, detail
}

// ------------------------------------------------------------------- org

// org is the scenario's org: an owner (administrator) and a viewer (a
// Standard member below the owner's role) who sees only the deals shared
// with them; deals are private by default.
type org struct {
	id           string
	key          int64
	owner        string // token
	viewer       string // token
	viewerMember int64
	shared       []string // deals shared with the viewer (read-only)
	own          []string // the owner's deals the load updates
	conn         *sqlx.DB // the test's own pool on the database
}

const (
	signupMut     = `mutation($in: SignupInput!) { signup(input: $in) { token } }`
	createOrgMut  = `mutation($name: String!) { createOrg(input: {name: $name}) { id } }`
	privateMut    = `mutation { setModuleSharing(module: DEALS, defaultAccess: PRIVATE) { __typename } }`
	createDealMut = `mutation($in: CreateDealInput!) { createDeal(input: $in) { id } }`
	updateDealMut = `mutation($id: ID!, $amount: Float!) { updateDeal(id: $id, input: {amount: $amount}) { id } }`
	shareMut      = `mutation($ids: [ID!]!, $p: ID!) { shareRecords(module: DEALS, recordIds: $ids, shares: [{principal: {type: USER, id: $p}, access: READ_ONLY}]) { recordId } }`
	revokeMut     = `mutation($ids: [ID!]!, $p: ID!) { revokeRecordShares(module: DEALS, recordIds: $ids, principals: [{type: USER, id: $p}]) }`
	listQuery     = `query List { deals(first: 20, orderBy: [{field: UPDATED_AT, direction: DESC}]) { edges { node { id name amount } } } }`
	dealQuery     = `query Deal($id: ID!) { deal(id: $id) { id name } }`
	password      = "correct horse battery staple"
)

// setupOrg builds the org through the GraphQL API at url (and SQL for adding the
// viewer, as apitest.AddMember does).
func setupOrg(t testing.TB, url, dbURL string) *org {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	o := &org{conn: conn}
	var su struct{ Signup struct{ Token string } }
	mustPost(t, url, "", "", signupMut, map[string]any{"in": map[string]any{"email": "owner@faults.test", "name": "Owner", "password": password}}, &su)
	o.owner = su.Signup.Token
	var co struct{ CreateOrg struct{ ID string } }
	mustPost(t, url, o.owner, "", createOrgMut, map[string]any{"name": "Faults"}, &co)
	o.id = co.CreateOrg.ID
	if o.key, err = ids.Decode(ids.Org, o.id); err != nil {
		t.Fatal(err)
	}
	mustPost(t, url, "", "", signupMut, map[string]any{"in": map[string]any{"email": "viewer@faults.test", "name": "Viewer", "password": password}}, &su)
	o.viewer = su.Signup.Token
	o.viewerMember = addMember(t, conn, o.key, "viewer@faults.test")
	mustPost(t, url, o.owner, o.id, privateMut, nil, nil)
	for i := 0; i < 20; i++ {
		var cd struct{ CreateDeal struct{ ID string } }
		mustPost(t, url, o.owner, o.id, createDealMut, map[string]any{"in": map[string]any{"name": fmt.Sprintf("fixture %d", i), "amount": 100 * i}}, &cd)
		if i < 10 {
			o.shared = append(o.shared, cd.CreateDeal.ID)
		} else {
			o.own = append(o.own, cd.CreateDeal.ID)
		}
	}
	mustPost(t, url, o.owner, o.id, shareMut, map[string]any{"ids": o.shared, "p": ids.Encode(ids.Member, o.viewerMember)}, nil)
	if !o.sees(t, url, o.shared[0]) || o.sees(t, url, o.own[0]) {
		t.Fatal("fixture: the viewer must see the shared deals and no other")
	}
	return o
}

// addMember makes the user a Standard member of the org in a new role below
// the top role, and logs the security change.
func addMember(t testing.TB, conn *sqlx.DB, orgKey int64, email string) int64 {
	t.Helper()
	ctx := context.Background()
	tx := conn.MustBeginTx(ctx, nil)
	defer func() { _ = tx.Rollback() }()
	var user, top, role, profile, member int64
	steps := []struct {
		dst   *int64
		query string
		args  []any
	}{
		{&user, `SELECT id FROM users WHERE email = $1`, []any{email}},
		{&top, `SELECT id FROM roles WHERE org_id = $1 AND parent_id IS NULL ORDER BY id LIMIT 1`, []any{orgKey}},
		{&role, `INSERT INTO roles (org_id, name, parent_id) VALUES ($1, 'Rep', $2) RETURNING id`, nil},
		{&profile, `SELECT id FROM profiles WHERE org_id = $1 AND is_standard`, []any{orgKey}},
		{&member, `INSERT INTO members (org_id, user_id, role_id, profile_id) VALUES ($1, $2, $3, $4) RETURNING id`, nil},
	}
	for i, s := range steps {
		args := s.args
		switch i {
		case 2:
			args = []any{orgKey, top}
		case 4:
			args = []any{orgKey, user, role, profile}
		}
		if err := tx.GetContext(ctx, s.dst, s.query, args...); err != nil {
			t.Fatalf("add member: %s: %v", s.query, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET default_org_id = $2 WHERE id = $1`, user, orgKey); err != nil {
		t.Fatal(err)
	}
	if err := db.LogSecurityChange(ctx, tx, orgKey, db.ChangeOrg, map[string]any{"member": member}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return member
}

// sees asks the GraphQL API at url whether the viewer sees the deal.
func (o *org) sees(t testing.TB, url, deal string) bool {
	t.Helper()
	var out struct{ Deal *struct{ ID string } }
	mustPost(t, url, o.viewer, o.id, dealQuery, map[string]any{"id": deal}, &out)
	return out.Deal != nil
}

// ------------------------------------------------------------------- load

// result is one request of the load.
type result struct {
	op      string
	start   time.Time
	lat     time.Duration
	outcome string
	detail  string
	created string // createDeal: the deal's name
}

// load is many clients sending a mix of reads (as the viewer) and writes
// (as the owner) until stopped.
type load struct {
	mu      sync.Mutex
	results []result
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started time.Time
	urls    []string
	ready   []atomic.Bool // per instance, when a readiness poller runs
}

// loadOptions: allOnFirst sends every client to the first instance (else
// client c starts on instance c mod n); balancer polls each instance's
// /readyz every 100 ms, as a load balancer does, and clients leave an
// instance that is not ready.
type loadOptions struct {
	allOnFirst, balancer bool
}

// startLoad starts the clients. A client whose instance refuses
// connections (or, with a balancer, is not ready) moves to the next one.
func startLoad(o *org, clients int, opt loadOptions, ws ...*wardenProc) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel, started: time.Now(), ready: make([]atomic.Bool, len(ws))}
	for i, w := range ws {
		l.urls = append(l.urls, w.graphqlURL())
		l.ready[i].Store(true)
		if opt.balancer {
			l.wg.Add(1)
			go func(i int, w *wardenProc) {
				defer l.wg.Done()
				l.pollReady(ctx, i, w.base+"/readyz")
			}(i, w)
		}
	}
	for c := 0; c < clients; c++ {
		l.wg.Add(1)
		go func(c int) {
			defer l.wg.Done()
			first := c % len(ws)
			if opt.allOnFirst {
				first = 0
			}
			l.client(ctx, o, c, first)
		}(c)
	}
	return l
}

func (l *load) pollReady(ctx context.Context, i int, url string) {
	hc := &http.Client{Timeout: time.Second}
	for ctx.Err() == nil {
		resp, err := hc.Get(url)
		ok := err == nil && resp.StatusCode == http.StatusOK
		if err == nil {
			_ = resp.Body.Close()
		}
		l.ready[i].Store(ok)
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (l *load) client(ctx context.Context, o *org, c, target int) {
	r := rand.New(rand.NewPCG(uint64(c)+1, 7))
	urls := l.urls
	for n := 0; ctx.Err() == nil; n++ {
		for k := 0; k < len(urls) && !l.ready[target].Load(); k++ {
			target = (target + 1) % len(urls)
		}
		res := result{start: time.Now()}
		var resp *gqlResponse
		var err error
		url := urls[target]
		check := func(*gqlResponse) string { return "" }
		switch p := r.IntN(100); {
		case p < 40:
			res.op = "list"
			resp, err = post(context.Background(), url, o.viewer, o.id, listQuery, nil)
		case p < 70:
			res.op = "deal"
			resp, err = post(context.Background(), url, o.viewer, o.id, dealQuery, map[string]any{"id": o.shared[r.IntN(len(o.shared))]})
			check = func(resp *gqlResponse) string {
				var out struct{ Deal *struct{ ID string } }
				if json.Unmarshal(resp.Data, &out) != nil || out.Deal == nil {
					return "a deal shared with the viewer was not returned"
				}
				return ""
			}
		case p < 85:
			res.op = "createDeal"
			res.created = fmt.Sprintf("load %d-%d", c, n)
			resp, err = post(context.Background(), url, o.owner, o.id, createDealMut, map[string]any{"in": map[string]any{"name": res.created, "amount": 1}})
		default:
			res.op = "updateDeal"
			resp, err = post(context.Background(), url, o.owner, o.id, updateDealMut, map[string]any{"id": o.own[r.IntN(len(o.own))], "amount": r.IntN(100000)})
		}
		res.lat = time.Since(res.start)
		res.outcome, res.detail = classify(resp, err)
		if res.outcome == outOK {
			if msg := check(resp); msg != "" {
				res.outcome, res.detail = outError, msg
			}
		}
		l.mu.Lock()
		l.results = append(l.results, res)
		l.mu.Unlock()
		if res.outcome == outRefused && len(urls) > 1 {
			target = (target + 1) % len(urls)
		}
		if res.outcome != outOK {
			// A client backs off a little after a failure, as a real one
			// would, instead of spinning on a server that is down.
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// stop stops the clients and returns every result.
func (l *load) stop() []result {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]result(nil), l.results...)
}

// ----------------------------------------------------------------- figures

// phaseStat summarises the requests that started in one phase.
type phaseStat struct {
	Name                            string
	Seconds                         float64
	Requests, OK, Retryable, Errors int
	Refused, Dropped                int
	P50, P99, Max                   float64 // ms, every request
	FailP50, FailP99, FailMax       float64 // ms, failed requests only
	FirstErrors                     []string
	ok, failed                      []time.Duration
}

// phases splits results by start time at the marks: phase i holds the
// requests started in [marks[i], marks[i+1]).
func phases(results []result, names []string, marks []time.Time) []*phaseStat {
	out := make([]*phaseStat, len(names))
	for i := range names {
		out[i] = &phaseStat{Name: names[i], Seconds: marks[i+1].Sub(marks[i]).Seconds()}
	}
	for _, r := range results {
		i := sort.Search(len(marks), func(k int) bool { return marks[k].After(r.start) }) - 1
		if i < 0 || i >= len(names) {
			continue
		}
		s := out[i]
		s.Requests++
		switch r.outcome {
		case outOK:
			s.OK++
			s.ok = append(s.ok, r.lat)
		case outRetryable:
			s.Retryable++
		case outRefused:
			s.Refused++
		case outDropped:
			s.Dropped++
		default:
			s.Errors++
		}
		if r.outcome != outOK {
			s.failed = append(s.failed, r.lat)
			if len(s.FirstErrors) < 3 && r.outcome != outRefused {
				s.FirstErrors = append(s.FirstErrors, r.op+": "+r.detail)
			}
		}
	}
	for _, s := range out {
		all := append(append([]time.Duration(nil), s.ok...), s.failed...)
		s.P50, s.P99, s.Max = quantile(all, .5), quantile(all, .99), quantile(all, 1)
		s.FailP50, s.FailP99, s.FailMax = quantile(s.failed, .5), quantile(s.failed, .99), quantile(s.failed, 1)
	}
	return out
}

func quantile(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := min(max(int(math.Ceil(q*float64(len(s))))-1, 0), len(s)-1)
	return math.Round(float64(s[k].Microseconds())) / 1000
}

// report logs the phases as a table and, with WARDEN_FAULTS_REPORT set,
// appends it to that file.
func report(t testing.TB, title string, clients int, stats []*phaseStat, notes ...string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "\n### %s (%d clients)\n\n", title, clients)
	b.WriteString("| phase | s | requests | ok | retryable | other errors | refused | dropped | p50 ms | p99 ms | max ms | failed p50 ms | failed p99 ms | failed max ms |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range stats {
		fmt.Fprintf(&b, "| %s | %.1f | %d | %d | %d | %d | %d | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", s.Name, s.Seconds, s.Requests, s.OK,
			s.Retryable, s.Errors, s.Refused, s.Dropped, s.P50, s.P99, s.Max, s.FailP50, s.FailP99, s.FailMax)
	}
	for _, s := range stats {
		for _, e := range s.FirstErrors {
			fmt.Fprintf(&b, "\n- %s: %s", s.Name, e)
		}
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "\n- %s", n)
	}
	b.WriteString("\n")
	appendReport(t, b.String())
}

// appendReport logs text and, with WARDEN_FAULTS_REPORT set, appends it to
// that file.
func appendReport(t testing.TB, text string) {
	t.Helper()
	t.Log(text)
	if path := os.Getenv("WARDEN_FAULTS_REPORT"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		_, _ = f.WriteString(text)
	}
}

// checkWrites checks the load's createDeal requests against the database:
// every one answered ok exists, every load deal that exists was asked for,
// and every load deal has its audit entry (no record without its audit,
// which one transaction guarantees).
func checkWrites(t testing.TB, o *org, results []result) (okCreates, inDB int) {
	t.Helper()
	var names []string
	if err := o.conn.Select(&names, `SELECT name FROM deals WHERE org_id = $1 AND name LIKE 'load %'`, o.key); err != nil {
		t.Fatal(err)
	}
	exists := map[string]bool{}
	for _, n := range names {
		exists[n] = true
	}
	asked := map[string]bool{}
	for _, r := range results {
		if r.op != "createDeal" {
			continue
		}
		asked[r.created] = true
		if r.outcome == outOK {
			okCreates++
			if !exists[r.created] {
				t.Errorf("createDeal %q answered ok but the deal is not in the database", r.created)
			}
		}
	}
	for _, n := range names {
		if !asked[n] {
			t.Errorf("deal %q in the database was never asked for", n)
		}
	}
	var unaudited int
	if err := o.conn.Get(&unaudited, `SELECT count(*) FROM deals d WHERE d.org_id = $1 AND d.name LIKE 'load %'
		AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.org_id = d.org_id AND a.action = 'record.create' AND a.target_id = d.id)`, o.key); err != nil {
		t.Fatal(err)
	}
	if unaudited != 0 {
		t.Errorf("%d load deals have no record.create audit entry: a partial write", unaudited)
	}
	return okCreates, len(names)
}
