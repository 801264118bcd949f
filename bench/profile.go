package bench

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"warden/access"
	"warden/db"
	"warden/records"
)

// profile records, for the leaf viewer's Q1 and Q2, the SQL the server runs
// (through db.ListRecords with the parameters the resolver builds) with its
// EXPLAIN (ANALYZE, BUFFERS), and a CPU profile of the process while the
// leaf sends Q1 to instance A; its top entries go in the report, restricted
// to the server's request goroutines (pprof label warden=server) and whole.
func (e *env) profile(ctx context.Context, rep *report, outDir string) {
	leaf := e.viewer("leaf")
	q1Order := `[{"field":"UPDATED_AT","direction":"DESC"}]`
	q2Filter, q2Order := `{"stage":{"eq":"`+filterStage+`"}}`, `[{"field":"AMOUNT","direction":"DESC"}]`
	type ex struct {
		name          string
		v             *viewer
		filter, order string
		count         bool
	}
	list := []ex{{"Q1 leaf", leaf, "", q1Order, false}, {"Q2 leaf", leaf, q2Filter, q2Order, false}}
	// The other viewers' list SQL too, for the figures that miss.
	for _, name := range []string{"mid", "top", "admin"} {
		v := e.viewer(name)
		list = append(list, ex{"Q1 " + name, v, "", q1Order, false}, ex{"Q2 " + name, v, q2Filter, q2Order, false},
			ex{"Q3 " + name, v, "", "", true})
	}
	for _, x := range list {
		text, err := e.explain(ctx, x.v, x.filter, x.order, x.count)
		if err != nil {
			text = "EXPLAIN failed: " + err.Error()
		}
		rep.Profile.Explain = append(rep.Profile.Explain, explainEntry{Request: x.name, Text: text})
		switch {
		case x.name == "Q2 admin" && strings.Contains(text, "Sort Key: amount DESC NULLS LAST"):
			rep.note("the administrator's Q2 is sorted by Postgres (Sort Key: amount DESC NULLS LAST, id DESC): the list's NULLS LAST " +
				"order does not match deals_stage_amount_idx (amount DESC sorts NULLs first), so the Q2 baseline reads every deal of " +
				"the stage and is not the physical limit; Q2 ratios flatter the secured viewers (see the EXPLAIN below)")
		case x.name == "Q3 admin" && strings.Contains(text, "Aggregate"):
			rep.note("the administrator's totalCount is a count(*) over the org's deals in Postgres, while a dense secured viewer's " +
				"is the bitmap's cardinality and a sparse one's a count(*) over id = ANY(visible ids): Q3 ratios compare different work " +
				"(see the EXPLAIN below)")
		}
	}

	path := filepath.Join(outDir, e.spec.Name+"-leaf-q1.cpu.pprof")
	f, err := os.Create(path)
	if err != nil {
		rep.Profile.CPUNote = err.Error()
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		rep.Profile.CPUNote = "CPU profile unavailable: " + err.Error()
		return
	}
	e.logf("profiling: leaf Q1 for %s", e.spec.ProfileDuration)
	n := 0
	for deadline := time.Now().Add(e.spec.ProfileDuration); time.Now().Before(deadline) && ctx.Err() == nil; n++ {
		if resp, err := e.client.do(ctx, e.a.url, leaf.Token, e.orgID, q1Req); err == nil && resp.err() == nil {
			continue
		}
	}
	pprof.StopCPUProfile()
	_ = f.Close()
	rep.Profile.CPUFile = filepath.Base(path)
	rep.Profile.CPURequests = n
	goBin, err := exec.LookPath("go")
	if err != nil {
		if _, serr := os.Stat("/usr/local/go/bin/go"); serr == nil {
			goBin, err = "/usr/local/go/bin/go", nil
		}
	}
	if err != nil {
		rep.Profile.CPUNote = "go tool pprof not found: read " + path + " with it"
		return
	}
	top := func(args ...string) string {
		cmd := exec.CommandContext(ctx, goBin, append(append([]string{"tool", "pprof", "-top", "-nodecount=25"}, args...), path)...)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Sprintf("go tool pprof failed: %v: %s", err, strings.TrimSpace(stderr.String()))
		}
		return strings.TrimSpace(out.String())
	}
	rep.Profile.CPUTopServer = top("-tagfocus=warden=server")
	rep.Profile.CPUTopServerCum = top("-cum", "-tagfocus=warden=server", "-show=^warden/")
	rep.Profile.CPUTopProcess = top()
}

// explain reproduces the resolver's list call for the viewer and returns
// each SQL statement it ran with its EXPLAIN (ANALYZE, BUFFERS).
func (e *env) explain(ctx context.Context, v *viewer, filterJSON, orderJSON string, count bool) (string, error) {
	snap, ix, err := e.a.engine.State(ctx, e.gen.Org)
	if err != nil {
		return "", err
	}
	vs := snap.VisibleSet(ix, v.Member, access.Deals)
	meta := records.MetaOf(access.Deals)
	custom, err := db.CustomFieldsOf(ctx, e.conn, e.gen.Org, access.Deals)
	if err != nil {
		return "", err
	}
	var filter map[string]any
	if filterJSON != "" {
		if err := decodeNumbers(filterJSON, &filter); err != nil {
			return "", err
		}
	}
	var orderRaw []map[string]any
	if orderJSON != "" {
		if err := decodeNumbers(orderJSON, &orderRaw); err != nil {
			return "", err
		}
	}
	expr, err := records.ParseFilter(meta, custom, filter)
	if err != nil {
		return "", err
	}
	order, err := records.ParseOrder(meta, custom, orderRaw)
	if err != nil {
		return "", err
	}
	rec := &recorder{q: e.conn}
	params := db.ListParams{Org: e.gen.Org, Meta: meta, Filter: expr, Order: order, First: 50, WantRows: !count,
		WantCount: count, Visible: db.VisibleFromEngine(vs, ix.Count(access.Deals))}
	if count {
		params.First = 1
	}
	// Once to warm, once recorded.
	if _, err := db.ListRecords(ctx, e.conn, params); err != nil {
		return "", err
	}
	t0 := time.Now()
	res, err := db.ListRecords(ctx, rec, params)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	visible := "all"
	if !vs.All {
		visible = fmt.Sprint(vs.IDs.GetCardinality())
	}
	fmt.Fprintf(&b, "visible set: %s ids; db.ListRecords: %d statement(s), %d rows, totalCount %d, %.2f ms\n",
		visible, len(rec.stmts), len(res.Rows), res.TotalCount, ms(time.Since(t0)))
	if len(rec.stmts) > 4 {
		fmt.Fprintf(&b, "(only the first 4 statements are explained)\n")
		rec.stmts = rec.stmts[:4]
	}
	for i, st := range rec.stmts {
		fmt.Fprintf(&b, "\n-- statement %d: %s\n-- args: %s\n", i+1, st.sql, describeArgs(st.args))
		rows, err := e.conn.QueryxContext(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+st.sql, st.args...)
		if err != nil {
			fmt.Fprintf(&b, "EXPLAIN failed: %v\n", err)
			continue
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				break
			}
			b.WriteString(shorten(line) + "\n")
		}
		_ = rows.Close()
	}
	return strings.TrimSpace(b.String()), nil
}

// shorten cuts a plan line holding a long literal (the sparse plan's id array).
func shorten(line string) string {
	if len(line) <= 240 {
		return line
	}
	return line[:200] + fmt.Sprintf("... (%d chars)", len(line))
}

func decodeNumbers(s string, out any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	return dec.Decode(out)
}

// describeArgs shortens long arguments (the sparse plan's id array).
func describeArgs(args []any) string {
	parts := make([]string, len(args))
	for i, a := range args {
		s := fmt.Sprint(a)
		if v, ok := a.(driver.Valuer); ok {
			if x, err := v.Value(); err == nil {
				s = fmt.Sprint(x)
			}
		}
		if len(s) > 80 {
			s = s[:60] + fmt.Sprintf("... (%d chars)", len(s))
		}
		parts[i] = fmt.Sprintf("$%d=%s", i+1, s)
	}
	return strings.Join(parts, " ")
}

type stmt struct {
	sql  string
	args []any
}

// recorder is a db.Queryer that remembers the statements it runs.
type recorder struct {
	q  *sqlx.DB
	mu sync.Mutex

	stmts []stmt
}

func (r *recorder) note(q string, args []any) {
	r.mu.Lock()
	r.stmts = append(r.stmts, stmt{q, append([]any(nil), args...)})
	r.mu.Unlock()
}

func (r *recorder) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	r.note(q, args)
	return r.q.QueryContext(ctx, q, args...)
}

func (r *recorder) QueryxContext(ctx context.Context, q string, args ...any) (*sqlx.Rows, error) {
	r.note(q, args)
	return r.q.QueryxContext(ctx, q, args...)
}

func (r *recorder) QueryRowxContext(ctx context.Context, q string, args ...any) *sqlx.Row {
	r.note(q, args)
	return r.q.QueryRowxContext(ctx, q, args...)
}

func (r *recorder) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	r.note(q, args)
	return r.q.ExecContext(ctx, q, args...)
}
