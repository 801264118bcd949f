package db_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"warden/db"
	"warden/records"
)

// FuzzListStaysInsideTheVisibleSet: no filter or ordering reads a record
// the viewer may not see. Whatever the input, a secured list returns
// exactly the unsecured list's matches that are in the visible set, under
// every plan (sparse ids, dense scan), and its totalCount is their number,
// so neither the rows nor the count tell anything of hidden records.
func FuzzListStaysInsideTheVisibleSet(f *testing.F) {
	fx := newFixture(f)
	custom := []*records.CustomField{{APIName: "tier", Type: "TEXT"}, {APIName: "score", Type: "NUMBER"}}
	rng := rand.New(rand.NewPCG(7, 11))
	stages := []any{"Won", "Lost", "won", "", nil, "100%_done"}
	visible := roaring.New()
	for i := range 60 {
		rec := fx.insert(fx.org, dealsMeta, map[string]any{
			"name": string(rune('a'+i%26)) + "deal", "stage": stages[rng.IntN(len(stages))],
			"amount": []any{nil, 0.0, 10.5, 99.99, 250.0}[rng.IntN(5)], "probability": rng.IntN(101),
			"owner_id": []int64{fx.m1, fx.m2}[rng.IntN(2)],
			"custom":   records.JSONMap{"tier": []any{"gold", "Gold", nil, ""}[rng.IntN(4)], "score": rng.IntN(10)},
		})
		if i%3 != 0 {
			visible.Add(uint32(rec.Base().Key))
		}
	}
	// The other org's look-alike is visible to nobody here.
	fx.insert(fx.org2, dealsMeta, map[string]any{"name": "adeal", "stage": "Won", "owner_id": fx.o2m})

	for _, s := range [][2]string{
		{`{}`, `[]`},
		{`{"stage":{"eq":"Won"}}`, `[{"field":"AMOUNT","direction":"DESC"}]`},
		{`{"or":[{"amount":{"gt":50}},{"customFields":{"tier":{"eq":"gold"}}}]}`, `[{"customField":"score"}]`},
		{`{"name":{"contains":"a"},"probability":{"lte":50}}`, `[{"field":"NAME"}]`},
		{`{"stage":{"isEmpty":true}}`, `[{"field":"UPDATED_AT","direction":"DESC"}]`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]), uint8(7))
	}
	f.Fuzz(func(t *testing.T, filterJSON, orderJSON []byte, page uint8) {
		var rawFilter map[string]any
		var rawOrder []map[string]any
		if json.Unmarshal(filterJSON, &rawFilter) != nil || json.Unmarshal(orderJSON, &rawOrder) != nil {
			return
		}
		filter, err := records.ParseFilter(dealsMeta, custom, rawFilter)
		if err != nil {
			return
		}
		order, err := records.ParseOrder(dealsMeta, custom, rawOrder)
		if err != nil {
			return
		}
		first := int(page%20) + 1
		list := func(v db.Visible) []int64 {
			var out []int64
			var after *records.Cursor
			for pages := 0; pages < 100; pages++ {
				res, err := db.ListRecords(fx.ctx, fx.db, db.ListParams{Org: fx.org, Meta: dealsMeta, Filter: filter,
					Order: order, After: after, First: first, Visible: v, WantRows: true, WantCount: pages == 0})
				if err != nil {
					t.Fatalf("list: %v", err)
				}
				if pages == 0 && v.IDs != nil {
					defer func(count int) {
						if count != len(out) {
							t.Fatalf("totalCount %d, but %d rows are listed", count, len(out))
						}
					}(res.TotalCount)
				}
				for _, r := range res.Rows {
					out = append(out, r.Base().Key)
				}
				if !res.HasNextPage || len(res.Rows) == 0 {
					return out
				}
				last := res.Rows[len(res.Rows)-1]
				cur := db.CursorFor(last, order)
				after = &cur
			}
			t.Fatalf("more than 100 pages")
			return nil
		}
		var want []int64
		for _, id := range list(db.Visible{All: true}) {
			if visible.Contains(uint32(id)) {
				want = append(want, id)
			}
		}
		for _, limit := range []int{10_000, 0} { // sparse, then dense
			old := db.SparseVisibleLimit
			db.SparseVisibleLimit = limit
			got := list(db.Visible{IDs: visible})
			db.SparseVisibleLimit = old
			if len(got) != len(want) {
				t.Fatalf("plan limit %d: %d rows, want the %d visible matches", limit, len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("plan limit %d: row %d is %d, want %d", limit, i, got[i], want[i])
				}
			}
		}
	})
}
