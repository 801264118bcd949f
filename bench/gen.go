package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"warden/access"
	"warden/db"
)

// The org is generated from a fixed seed: the same size always yields the
// same org (ids included, on a fresh database).
const seed = 20240601

// Two years of history, ending at a fixed instant so runs are comparable.
var (
	historyEnd   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	historyStart = historyEnd.AddDate(-2, 0, 0)
)

var (
	stages      = []string{"Qualification", "Needs Analysis", "Proposal", "Negotiation", "Closed Won", "Closed Lost"}
	stageWeight = []float64{0.22, 0.18, 0.17, 0.15, 0.14, 0.14}
	stageProb   = []int{10, 25, 50, 75, 100, 0}
	industries  = []string{"Software", "Manufacturing", "Retail", "Finance", "Health", "Energy", "Logistics", "Media"}
	firstNames  = []string{"Ada", "Ben", "Chloe", "Dev", "Eva", "Femi", "Gus", "Hana", "Ivo", "Jun", "Kira", "Luis"}
	lastNames   = []string{"Okafor", "Schmidt", "Tanaka", "Rossi", "Nguyen", "Silva", "Kowalski", "Haddad", "Larsen", "Moreau"}
	cities      = []string{"Lisbon", "Berlin", "Osaka", "Austin", "Lagos", "Lyon", "Porto", "Denver"}
)

// The stage whose deals Q2 filters on.
const filterStage = "Negotiation"

type genRole struct {
	ID       int64
	Parent   int // index, -1 for the top role
	Depth    int
	Peers    bool
	Children []int
}

type genMember struct {
	ID, User int64
	Role     int // index into roles
}

type genGroup struct {
	ID      int64
	Level   int // 1: no nested groups; n: contains a group of level n-1
	Members []access.Principal
}

type dealRow struct {
	id, account, contact int64
	created, updated     int64 // unix microseconds
	amount               float64
	owner                int32
	closing              int32 // days after creation
	stage                uint8
}

type acctRow struct {
	id               int64
	created, updated int64
	revenue          float64
	owner            int32
	industry         uint8
}

type contactRow struct {
	id, account      int64
	created, updated int64
	owner            int32
	first, last      uint8
	city             uint8
}

type shareRow struct {
	module    access.Module
	record    int64
	principal access.Principal
	level     access.Level
	related   bool
	sharedBy  int64
	created   int64
}

// orgGen is the generated org: what is loaded, and what the measurements
// need afterwards (ids, owners, structure).
type orgGen struct {
	spec sizeSpec
	r    *rand.Rand

	Org                          int64
	AdminUser, AdminProfile, Std int64
	Roles                        []genRole
	Members                      []genMember // [0] is the administrator
	MembersByRole                map[int][]int
	Groups                       []genGroup
	Rules                        []access.SharingRule

	// Timing of the load, in seconds: generating the rows in memory, COPY,
	// rebuilding the indexes (and commit), VACUUM ANALYZE.
	Timing struct{ Generate, Copy, Indexes, Vacuum float64 }

	DealIDs     []int64
	DealOwner   []int32 // member index per deal
	DealShared  map[int64]bool
	DealShares  int
	AcctShares  int
	ownedDeals  []int // per member
	deals       []dealRow
	accounts    []acctRow
	contacts    []contactRow
	shares      []shareRow
	firstRecord int64
}

func newOrgGen(spec sizeSpec) *orgGen {
	return &orgGen{spec: spec, r: rand.New(rand.NewPCG(seed, uint64(len(spec.Name)))), MembersByRole: map[int][]int{},
		DealShared: map[int64]bool{}}
}

// roleDepthIdx lists the role indexes at depth d, in breadth-first order.
func (g *orgGen) rolesAt(d int) []int {
	var out []int
	for i, r := range g.Roles {
		if r.Depth == d {
			out = append(out, i)
		}
	}
	return out
}

// subtree lists the role indexes of role i's subtree, i included.
func (g *orgGen) subtree(i int) []int {
	out := []int{i}
	for k := 0; k < len(out); k++ {
		out = append(out, g.Roles[out[k]].Children...)
	}
	return out
}

// structure generates roles, members, groups and rules; ids are assigned
// from the keys the org's creation returned.
func (g *orgGen) structure(topRole, adminMember, adminUser int64) {
	s := g.spec
	r := g.r
	g.AdminUser = adminUser
	// Role tree, breadth first: 3 children per role down to Depth levels.
	g.Roles = []genRole{{ID: topRole, Parent: -1}}
	for i := 0; i < len(g.Roles); i++ {
		if g.Roles[i].Depth == s.Depth-1 {
			continue
		}
		for c := 0; c < 3; c++ {
			idx := len(g.Roles)
			leaf := g.Roles[i].Depth+1 == s.Depth-1
			g.Roles = append(g.Roles, genRole{ID: topRole + int64(idx), Parent: i, Depth: g.Roles[i].Depth + 1,
				Peers: leaf && idx%7 == 0})
			g.Roles[i].Children = append(g.Roles[i].Children, idx)
		}
	}
	// The administrator at the top role, one manager per other inner role,
	// the rest spread over the leaf roles.
	g.Members = []genMember{{ID: adminMember, User: adminUser, Role: 0}}
	var leaves []int
	for i, role := range g.Roles {
		if role.Depth == s.Depth-1 {
			leaves = append(leaves, i)
		} else if i > 0 {
			g.Members = append(g.Members, genMember{Role: i})
		}
	}
	for k := 0; len(g.Members) < s.Members; k++ {
		g.Members = append(g.Members, genMember{Role: leaves[k%len(leaves)]})
	}
	for i := range g.Members {
		g.Members[i].ID = adminMember + int64(i)
		g.Members[i].User = adminUser + int64(i)
		g.MembersByRole[g.Members[i].Role] = append(g.MembersByRole[g.Members[i].Role], i)
	}

	// Groups: the first Groups-Nested hold users and roles only; the nested
	// ones also hold groups of the level below (levels up to 4, well within
	// the nesting limit of 5).
	flat := s.Groups - s.Nested
	for k := 0; k < s.Groups; k++ {
		grp := genGroup{ID: int64(k + 1), Level: 1}
		if k >= flat {
			j := k - flat
			switch {
			case j < s.Nested/2:
				grp.Level = 2
			case j < s.Nested*3/4:
				grp.Level = 3
			default:
				grp.Level = 4
			}
		}
		seen := map[access.Principal]bool{}
		add := func(p access.Principal) {
			if !seen[p] {
				seen[p] = true
				grp.Members = append(grp.Members, p)
			}
		}
		if grp.Level > 1 {
			var below []int64
			for _, o := range g.Groups {
				if o.Level == grp.Level-1 {
					below = append(below, o.ID)
				}
			}
			if len(below) == 0 { // too few nested groups for every level
				for _, o := range g.Groups {
					if o.Level < grp.Level {
						below = append(below, o.ID)
					}
				}
			}
			for n := 1 + r.IntN(2); n > 0; n-- {
				add(access.GroupPrincipal(below[r.IntN(len(below))]))
			}
		}
		for n := 3 + r.IntN(6); n > 0; n-- {
			switch x := r.IntN(100); {
			case x < 60:
				add(access.User(g.randMember()))
			case x < 80:
				add(access.RolePrincipal(g.Roles[g.randRoleFrom(2)].ID))
			default:
				add(access.RoleAndSubordinates(g.Roles[g.randRoleFrom(s.Depth-3)].ID))
			}
		}
		g.Groups = append(g.Groups, grp)
	}

	// Sharing rules of deals: owner based, then criteria based.
	levels := []access.Level{access.LevelReadOnly, access.LevelReadOnly, access.LevelReadOnly, access.LevelReadWrite,
		access.LevelReadWrite, access.LevelReadWriteDelete}
	for k := 0; k < s.OwnerRules; k++ {
		var src access.Principal
		switch x := r.IntN(100); {
		case x < 25:
			src = access.User(g.randMember())
		case x < 60:
			src = access.RolePrincipal(g.Roles[g.randRoleFrom(2)].ID)
		case x < 80:
			src = access.RoleAndSubordinates(g.Roles[g.randRoleFrom(s.Depth-3)].ID)
		default:
			src = access.GroupPrincipal(g.Groups[r.IntN(len(g.Groups))].ID)
		}
		g.Rules = append(g.Rules, access.SharingRule{ID: int64(len(g.Rules) + 1), Module: access.Deals,
			Name: fmt.Sprintf("Owner rule %d", k+1), Source: &src, Target: g.randTarget(),
			Level: levels[r.IntN(len(levels))], SuperiorsAllowed: r.IntN(4) == 0})
	}
	for k := 0; k < s.CriteriaRules; k++ {
		var c access.Criteria
		switch k % 3 {
		case 0:
			c = access.Criteria{Op: access.And, Conditions: []access.Condition{
				{Field: "stage", Op: access.OpEq, Value: stages[k%len(stages)]},
				{Field: "amount", Op: access.OpGt, Value: float64(150000 + 25000*(k%5))}}}
		case 1:
			c = access.Criteria{Op: access.And, Conditions: []access.Condition{
				{Field: "probability", Op: access.OpGte, Value: float64(75)},
				{Field: "amount", Op: access.OpGte, Value: float64(200000 + 20000*(k%4))}}}
		default:
			c = access.Criteria{Op: access.Or, Conditions: []access.Condition{
				{Field: "amount", Op: access.OpGt, Value: float64(450000 + 10000*(k%4))},
				{Field: "name", Op: access.OpContains, Value: fmt.Sprintf("-%03d7", k)}}}
		}
		g.Rules = append(g.Rules, access.SharingRule{ID: int64(len(g.Rules) + 1), Module: access.Deals,
			Name: fmt.Sprintf("Criteria rule %d", k+1), Criteria: &c, Target: g.randTarget(),
			Level: levels[r.IntN(len(levels))], SuperiorsAllowed: r.IntN(2) == 0})
	}
}

func (g *orgGen) randMember() int64 { return g.Members[1+g.r.IntN(len(g.Members)-1)].ID }

// randRoleFrom is a random role index at depth minDepth or deeper (never the top).
func (g *orgGen) randRoleFrom(minDepth int) int {
	minDepth = max(minDepth, 1)
	for {
		i := 1 + g.r.IntN(len(g.Roles)-1)
		if g.Roles[i].Depth >= minDepth {
			return i
		}
	}
}

func (g *orgGen) randTarget() access.Principal {
	switch x := g.r.IntN(100); {
	case x < 30:
		return access.User(g.randMember())
	case x < 55:
		return access.RolePrincipal(g.Roles[g.randRoleFrom(2)].ID)
	case x < 75:
		return access.RoleAndSubordinates(g.Roles[g.randRoleFrom(2)].ID)
	default:
		return access.GroupPrincipal(g.Groups[g.r.IntN(len(g.Groups))].ID)
	}
}

// sharePrincipal: mostly users, some groups and roles.
func (g *orgGen) sharePrincipal() access.Principal {
	switch x := g.r.IntN(100); {
	case x < 60:
		return access.User(g.randMember())
	case x < 80:
		return access.GroupPrincipal(g.Groups[g.r.IntN(len(g.Groups))].ID)
	case x < 90:
		return access.RolePrincipal(g.Roles[g.randRoleFrom(2)].ID)
	default:
		return access.RoleAndSubordinates(g.Roles[g.randRoleFrom(g.spec.Depth-2)].ID)
	}
}

// records generates accounts, contacts and deals on one timeline: ids grow
// with creation time (with small gaps, as other orgs' records interleave on
// the global sequence), owners are Zipf-skewed, updatedAt spreads over two
// years.
func (g *orgGen) records() {
	s := g.spec
	r := g.r
	perm := r.Perm(len(g.Members))
	zipf := rand.NewZipf(r, 1.1, 20, uint64(len(g.Members)-1))
	owner := func() int32 { return int32(perm[zipf.Uint64()]) }
	g.ownedDeals = make([]int, len(g.Members))
	start, span := historyStart.UnixMicro(), historyEnd.UnixMicro()-historyStart.UnixMicro()
	updated := func(created int64) int64 {
		if r.IntN(10) < 3 {
			return created + r.Int64N(3600e6)
		}
		return created + int64(r.Float64()*float64(historyEnd.UnixMicro()-created))
	}
	total := s.Accounts + s.Contacts + s.Deals
	remA, remC, remD := s.Accounts, s.Contacts, s.Deals
	contactsOf := map[int64][]int64{}
	id := int64(1000)
	g.firstRecord = id
	g.accounts = make([]acctRow, 0, s.Accounts)
	g.contacts = make([]contactRow, 0, s.Contacts)
	g.deals = make([]dealRow, 0, s.Deals)
	g.DealIDs = make([]int64, 0, s.Deals)
	g.DealOwner = make([]int32, 0, s.Deals)
	cum := make([]float64, len(stageWeight))
	acc := 0.0
	for i, w := range stageWeight {
		acc += w
		cum[i] = acc
	}
	memberID := func(i int32) int64 { return g.Members[i].ID }
	for i := 0; i < total; i++ {
		id += 1 + r.Int64N(3)
		created := start + int64((float64(i)+r.Float64())/float64(total)*float64(span))
		rem := remA + remC + remD
		x := r.IntN(rem)
		switch {
		case x < remA:
			remA--
			a := acctRow{id: id, created: created, updated: updated(created), owner: owner(),
				industry: uint8(r.IntN(len(industries))), revenue: math.Round(math.Exp(13+2*r.NormFloat64())*100) / 100}
			g.accounts = append(g.accounts, a)
			if r.Float64() < s.AccountShareFrac {
				g.addShares(access.Accounts, id, memberID(a.owner), created, r.IntN(2) == 0)
			}
		case x < remA+remC:
			remC--
			c := contactRow{id: id, created: created, updated: updated(created), owner: owner(),
				first: uint8(r.IntN(len(firstNames))), last: uint8(r.IntN(len(lastNames))), city: uint8(r.IntN(len(cities)))}
			if n := len(g.accounts); n > 0 && r.IntN(100) < 95 {
				c.account = g.accounts[r.IntN(n)].id
				contactsOf[c.account] = append(contactsOf[c.account], id)
			}
			g.contacts = append(g.contacts, c)
		default:
			remD--
			d := dealRow{id: id, created: created, updated: updated(created), owner: owner(), closing: int32(r.IntN(180))}
			u := r.Float64()
			for k, c := range cum {
				if u <= c || k == len(cum)-1 {
					d.stage = uint8(k)
					break
				}
			}
			if r.IntN(100) < 97 {
				d.amount = math.Round(math.Min(math.Exp(10.5+1.1*r.NormFloat64()), 2e6)*100) / 100
			}
			if n := len(g.accounts); n > 0 && r.IntN(100) < 90 {
				d.account = g.accounts[r.IntN(n)].id
				if cs := contactsOf[d.account]; len(cs) > 0 && r.IntN(100) < 70 {
					d.contact = cs[r.IntN(len(cs))]
				}
			}
			g.deals = append(g.deals, d)
			g.DealIDs = append(g.DealIDs, id)
			g.DealOwner = append(g.DealOwner, d.owner)
			g.ownedDeals[d.owner]++
			if r.Float64() < s.DealShareFrac {
				g.addShares(access.Deals, id, memberID(d.owner), created, false)
			}
		}
	}
}

func (g *orgGen) addShares(m access.Module, id, owner, created int64, related bool) {
	n := 1
	if g.r.IntN(5) == 0 {
		n = 2
	}
	levels := []access.Level{access.LevelReadOnly, access.LevelReadOnly, access.LevelReadWrite, access.LevelFullAccess}
	var first access.Principal
	for k := 0; k < n; k++ {
		p := g.sharePrincipal()
		if k == 1 && p == first {
			continue
		}
		first = p
		g.shares = append(g.shares, shareRow{module: m, record: id, principal: p, level: levels[g.r.IntN(len(levels))],
			related: related, sharedBy: owner, created: created + g.r.Int64N(86400e6)})
		if m == access.Deals {
			g.DealShares++
			g.DealShared[id] = true
		} else {
			g.AcctShares++
		}
	}
}

// load writes the org into the (fresh, migrated) database in one
// transaction, in bulk with COPY: org, profiles and top role through
// db.CreateOrg, everything else with COPY (db.CopyStatement). The record tables'
// secondary indexes are dropped for the load and rebuilt after it, and
// foreign-key triggers are skipped when the role may do so (superuser):
// the generator only writes consistent rows. VACUUM ANALYZE follows.
func (g *orgGen) load(ctx context.Context, conn *sqlx.DB, logf func(string, ...any)) error {
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	var super bool
	if err := tx.GetContext(ctx, &super, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`); err != nil {
		return err
	}
	if super {
		if _, err := tx.ExecContext(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `SET LOCAL maintenance_work_mem = '512MB'`); err != nil {
		return err
	}
	admin, err := db.CreateUser(ctx, tx, fmt.Sprintf("admin-%s@bench.warden.invalid", g.spec.Name), "Bench Administrator", "")
	if err != nil {
		return err
	}
	org, err := db.CreateOrg(ctx, tx, admin.Key, "Bench "+g.spec.Name, "UTC")
	if err != nil {
		return err
	}
	g.Org, g.AdminProfile, g.Std = org.Org.Key, org.Admin.Key, org.Standard.Key
	t0 := time.Now()
	g.structure(org.TopRole.Key, org.Member.Key, admin.Key)
	g.records()
	g.Timing.Generate = time.Since(t0).Seconds()
	t0 = time.Now()
	logf("generated %d roles, %d members, %d groups, %d rules, %d accounts, %d contacts, %d deals, %d shares",
		len(g.Roles), len(g.Members), len(g.Groups), len(g.Rules), len(g.accounts), len(g.contacts), len(g.deals), len(g.shares))

	copyIn := func(table string, cols []string, n int, row func(i int) []any) error {
		stmt, err := tx.PrepareContext(ctx, db.CopyStatement(table, cols))
		if err != nil {
			return fmt.Errorf("copy %s: %w", table, err)
		}
		for i := 0; i < n; i++ {
			if _, err := stmt.ExecContext(ctx, row(i)...); err != nil {
				_ = stmt.Close()
				return fmt.Errorf("copy %s: %w", table, err)
			}
		}
		if _, err := stmt.ExecContext(ctx); err != nil {
			_ = stmt.Close()
			return fmt.Errorf("copy %s: %w", table, err)
		}
		return stmt.Close()
	}
	nullID := func(v int64) any {
		if v == 0 {
			return nil
		}
		return v
	}
	ts := func(us int64) time.Time { return time.UnixMicro(us).UTC() }

	if err := copyIn("roles", []string{"org_id", "id", "name", "parent_id", "share_with_peers"}, len(g.Roles)-1, func(i int) []any {
		role := g.Roles[i+1]
		return []any{g.Org, role.ID, fmt.Sprintf("Role %d.%d", role.Depth, i+1), g.Roles[role.Parent].ID, role.Peers}
	}); err != nil {
		return err
	}
	if err := copyIn("users", []string{"id", "email", "name", "default_org_id"}, len(g.Members)-1, func(i int) []any {
		m := g.Members[i+1]
		return []any{m.User, fmt.Sprintf("m%06d-%s@bench.warden.invalid", i+1, g.spec.Name),
			fmt.Sprintf("%s %s %d", firstNames[i%len(firstNames)], lastNames[(i/len(firstNames))%len(lastNames)], i+1), g.Org}
	}); err != nil {
		return err
	}
	if err := copyIn("members", []string{"org_id", "id", "user_id", "role_id", "profile_id", "status"}, len(g.Members)-1, func(i int) []any {
		m := g.Members[i+1]
		return []any{g.Org, m.ID, m.User, g.Roles[m.Role].ID, g.Std, "ACTIVE"}
	}); err != nil {
		return err
	}
	for _, m := range access.Modules {
		if _, err := tx.ExecContext(ctx, `INSERT INTO module_sharing (org_id, module, default_access) VALUES ($1, $2, 'PRIVATE')
			ON CONFLICT (org_id, module) DO UPDATE SET default_access = 'PRIVATE'`, g.Org, string(m)); err != nil {
			return err
		}
	}
	if err := copyIn("groups", []string{"org_id", "id", "name", "description"}, len(g.Groups), func(i int) []any {
		return []any{g.Org, g.Groups[i].ID, fmt.Sprintf("Group %02d", i+1), fmt.Sprintf("level %d", g.Groups[i].Level)}
	}); err != nil {
		return err
	}
	type gm struct {
		group int64
		p     access.Principal
	}
	var gms []gm
	for _, grp := range g.Groups {
		for _, p := range grp.Members {
			gms = append(gms, gm{grp.ID, p})
		}
	}
	if err := copyIn("group_members", []string{"org_id", "group_id", "principal_type", "principal_id"}, len(gms), func(i int) []any {
		return []any{g.Org, gms[i].group, gms[i].p.Type.String(), gms[i].p.ID}
	}); err != nil {
		return err
	}
	var ruleErr error
	if err := copyIn("sharing_rules", []string{"org_id", "id", "module", "name", "source_type", "source_id", "criteria",
		"target_type", "target_id", "access", "superiors_allowed"}, len(g.Rules), func(i int) []any {
		rule := g.Rules[i]
		var st, sid, crit any
		if rule.Source != nil {
			st, sid = rule.Source.Type.String(), rule.Source.ID
		}
		if rule.Criteria != nil {
			b, err := json.Marshal(rule.Criteria)
			if err != nil {
				ruleErr = err
			}
			crit = string(b)
		}
		return []any{g.Org, rule.ID, string(rule.Module), rule.Name, st, sid, crit, rule.Target.Type.String(), rule.Target.ID,
			rule.Level.String(), rule.SuperiorsAllowed}
	}); err != nil {
		return err
	}
	if ruleErr != nil {
		return ruleErr
	}

	// Secondary indexes of the bulk tables: dropped now, rebuilt after.
	var indexes []struct {
		Name string `db:"name"`
		Def  string `db:"def"`
	}
	if err := tx.SelectContext(ctx, &indexes, `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = current_schema() AND t.relname = ANY($1)
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)`,
		pq.Array([]string{"accounts", "contacts", "deals", "record_shares"})); err != nil {
		return err
	}
	for _, ix := range indexes {
		if _, err := tx.ExecContext(ctx, `DROP INDEX `+pq.QuoteIdentifier(ix.Name)); err != nil {
			return err
		}
	}
	ms := func(i int32) int64 { return g.Members[i].ID }
	if err := copyIn("accounts", []string{"org_id", "id", "owner_id", "created_by", "created_at", "updated_at", "name",
		"industry", "website", "phone", "annual_revenue"}, len(g.accounts), func(i int) []any {
		a := g.accounts[i]
		return []any{g.Org, a.id, ms(a.owner), ms(a.owner), ts(a.created), ts(a.updated), fmt.Sprintf("Account %06d", i+1),
			industries[a.industry], fmt.Sprintf("https://a%06d.example", i+1), fmt.Sprintf("+1-555-%07d", i), a.revenue}
	}); err != nil {
		return err
	}
	if err := copyIn("contacts", []string{"org_id", "id", "owner_id", "created_by", "created_at", "updated_at", "first_name",
		"last_name", "email", "phone", "account_id", "mailing_city"}, len(g.contacts), func(i int) []any {
		c := g.contacts[i]
		return []any{g.Org, c.id, ms(c.owner), ms(c.owner), ts(c.created), ts(c.updated), firstNames[c.first], lastNames[c.last],
			fmt.Sprintf("c%06d@contact.example", i+1), fmt.Sprintf("+1-556-%07d", i), nullID(c.account), cities[c.city]}
	}); err != nil {
		return err
	}
	if err := copyIn("deals", []string{"org_id", "id", "owner_id", "created_by", "created_at", "updated_at", "name", "amount",
		"stage", "closing_date", "probability", "account_id", "contact_id"}, len(g.deals), func(i int) []any {
		d := g.deals[i]
		var amount any
		if d.amount > 0 {
			amount = d.amount
		}
		closing := time.UnixMicro(d.created).UTC().AddDate(0, 0, int(d.closing)).Format(time.DateOnly)
		return []any{g.Org, d.id, ms(d.owner), ms(d.owner), ts(d.created), ts(d.updated), fmt.Sprintf("Deal-%07d", i+1), amount,
			stages[d.stage], closing, stageProb[d.stage], nullID(d.account), nullID(d.contact)}
	}); err != nil {
		return err
	}
	if err := copyIn("record_shares", []string{"org_id", "module", "record_id", "principal_type", "principal_id", "access",
		"include_related", "shared_by", "created_at"}, len(g.shares), func(i int) []any {
		sh := g.shares[i]
		return []any{g.Org, string(sh.module), sh.record, sh.principal.Type.String(), sh.principal.ID, sh.level.String(),
			sh.related, sh.sharedBy, ts(sh.created)}
	}); err != nil {
		return err
	}
	g.Timing.Copy = time.Since(t0).Seconds()
	t0 = time.Now()
	for _, ix := range indexes {
		if _, err := tx.ExecContext(ctx, ix.Def); err != nil {
			return fmt.Errorf("rebuild index %s: %w", ix.Name, err)
		}
	}
	// Identity sequences continue after the explicit keys.
	for _, t := range []string{"users", "roles", "members", "groups", "sharing_rules"} {
		if _, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'), (SELECT max(id) FROM `+t+`))`, t); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `SELECT setval('record_id_seq', (SELECT max(id) FROM (
		SELECT max(id) AS id FROM accounts UNION ALL SELECT max(id) FROM contacts UNION ALL SELECT max(id) FROM deals) x))`); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	g.Timing.Indexes = time.Since(t0).Seconds()
	t0 = time.Now()
	defer func() { g.Timing.Vacuum = time.Since(t0).Seconds() }()
	for _, t := range []string{"users", "roles", "members", "groups", "group_members", "sharing_rules", "accounts", "contacts", "deals", "record_shares"} {
		if _, err := conn.ExecContext(ctx, `VACUUM (ANALYZE) `+t); err != nil {
			return fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	return nil
}

// dropBulk forgets the generated rows once loaded; ids and owners stay.
func (g *orgGen) dropBulk() {
	g.deals, g.accounts, g.contacts, g.shares = nil, nil, nil, nil
}
