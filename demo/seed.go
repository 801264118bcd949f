// Package demo owns the demo data `warden seed` loads: two orgs that share
// a user, a role tree, groups, members with known passwords, shifts, a
// sharing rule and a few hundred records per module.
package demo

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"warden/auth"
	"warden/db"
)

// The demo's sign-in. Every demo user has the same password.
const (
	OwnerEmail = "olivia@acme.example"
	Password   = "warden-demo-pass"
)

// Users of the demo, by email: name and where they sit.
var people = []struct{ email, name string }{
	{OwnerEmail, "Olivia Owner"},
	{"dan@acme.example", "Dan Director"},
	{"mia@acme.example", "Mia Manager"},
	{"max@acme.example", "Max Manager"},
	{"rita@acme.example", "Rita Rep"},
	{"ravi@acme.example", "Ravi Rep"},
	{"rosa@acme.example", "Rosa Rep"},
}

// Seed loads the demo once; it reports whether it did.
func Seed(ctx context.Context, conn *sqlx.DB) (bool, error) {
	if _, err := db.UserByEmail(ctx, conn, OwnerEmail); err == nil {
		return false, nil
	} else if !errors.Is(err, db.ErrNotFound) {
		return false, err
	}
	hash, err := auth.HashPassword(Password)
	if err != nil {
		return false, err
	}
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback() }()
	users := map[string]int64{}
	for _, p := range people {
		u, err := db.CreateUser(ctx, tx, p.email, p.name, hash)
		if err != nil {
			return false, err
		}
		users[p.email] = u.Key
	}
	acme, err := db.CreateOrg(ctx, tx, users[OwnerEmail], "Acme Corp", "America/New_York")
	if err != nil {
		return false, err
	}
	globex, err := db.CreateOrg(ctx, tx, users[OwnerEmail], "Globex Europe", "Europe/Berlin")
	if err != nil {
		return false, err
	}
	if err := seedAcme(ctx, tx, acme, users); err != nil {
		return false, fmt.Errorf("seed Acme: %w", err)
	}
	if err := seedGlobex(ctx, tx, globex, users); err != nil {
		return false, fmt.Errorf("seed Globex: %w", err)
	}
	return true, tx.Commit()
}

type seeder struct {
	ctx context.Context
	tx  *sqlx.Tx
	org int64
	err error
}

func (s *seeder) id(query string, args ...any) int64 {
	var id int64
	if s.err == nil {
		s.err = s.tx.GetContext(s.ctx, &id, query, args...)
	}
	return id
}

func (s *seeder) exec(query string, args ...any) {
	if s.err == nil {
		_, s.err = s.tx.ExecContext(s.ctx, query, args...)
	}
}

func (s *seeder) role(name string, parent int64, peers bool) int64 {
	return s.id(`INSERT INTO roles (org_id, name, parent_id, share_with_peers) VALUES ($1, $2, $3, $4) RETURNING id`, s.org, name, parent, peers)
}

func (s *seeder) member(user, role, profile, reportsTo int64) int64 {
	s.exec(`UPDATE users SET default_org_id = $2 WHERE id = $1 AND default_org_id IS NULL`, user, s.org)
	return s.id(`INSERT INTO members (org_id, user_id, role_id, profile_id, reports_to_id) VALUES ($1, $2, $3, $4, NULLIF($5, 0)) RETURNING id`,
		s.org, user, role, profile, reportsTo)
}

func seedAcme(ctx context.Context, tx *sqlx.Tx, o *db.NewOrg, users map[string]int64) error {
	s := &seeder{ctx: ctx, tx: tx, org: o.Org.Key}
	std, ceo, owner := o.Standard.Key, o.TopRole.Key, o.Member.Key
	director := s.role("Sales Director", ceo, false)
	managers := s.role("Sales Manager", director, true)
	reps := s.role("Sales Rep", managers, false)
	dan := s.member(users["dan@acme.example"], director, std, owner)
	mia := s.member(users["mia@acme.example"], managers, std, dan)
	max := s.member(users["max@acme.example"], managers, std, dan)
	rita := s.member(users["rita@acme.example"], reps, std, mia)
	ravi := s.member(users["ravi@acme.example"], reps, std, mia)
	rosa := s.member(users["rosa@acme.example"], reps, std, max)
	keyAccounts := s.id(`INSERT INTO groups (org_id, name, description) VALUES ($1, 'Key Accounts', 'Reps who work the largest accounts') RETURNING id`, s.org)
	s.exec(`INSERT INTO group_members (org_id, group_id, principal_type, principal_id) VALUES ($1, $2, 'USER', $3), ($1, $2, 'USER', $4)`, s.org, keyAccounts, rita, rosa)
	emea := s.id(`INSERT INTO groups (org_id, name) VALUES ($1, 'EMEA') RETURNING id`, s.org)
	s.exec(`INSERT INTO group_members (org_id, group_id, principal_type, principal_id) VALUES ($1, $2, 'GROUP', $3), ($1, $2, 'USER', $4)`, s.org, emea, keyAccounts, ravi)
	s.exec(`INSERT INTO module_sharing (org_id, module, default_access) VALUES ($1, 'LEADS', 'PRIVATE'), ($1, 'ACCOUNTS', 'PUBLIC_READ_ONLY'),
		($1, 'CONTACTS', 'PRIVATE'), ($1, 'DEALS', 'PRIVATE'), ($1, 'TASKS', 'PRIVATE')`, s.org)
	s.exec(`INSERT INTO sharing_rules (org_id, module, name, criteria, target_type, target_id, access)
		VALUES ($1, 'DEALS', 'Big deals to Key Accounts', '{"Op":"AND","Conditions":[{"Field":"amount","Op":"GT","Value":50000}]}', 'GROUP', $2, 'READ_ONLY')`, s.org, keyAccounts)
	s.exec(`INSERT INTO sharing_rules (org_id, module, name, source_type, source_id, target_type, target_id, access)
		VALUES ($1, 'LEADS', 'Rep leads to all reps', 'ROLE', $2, 'ROLE', $2, 'READ_WRITE')`, s.org, reps)
	day := s.id(`INSERT INTO shifts (org_id, name, time_zone, days, breaks) VALUES ($1, 'New York day', 'America/New_York',
		'[{"day":"MONDAY","start":"09:00","end":"17:00"},{"day":"TUESDAY","start":"09:00","end":"17:00"},{"day":"WEDNESDAY","start":"09:00","end":"17:00"},{"day":"THURSDAY","start":"09:00","end":"17:00"},{"day":"FRIDAY","start":"09:00","end":"17:00"}]',
		'[{"start":"12:00","end":"13:00"}]') RETURNING id`, s.org)
	s.id(`INSERT INTO shifts (org_id, name, time_zone, days) VALUES ($1, 'Night support', 'Asia/Kolkata',
		'[{"day":"MONDAY","start":"22:00","end":"06:00"},{"day":"TUESDAY","start":"22:00","end":"06:00"},{"day":"WEDNESDAY","start":"22:00","end":"06:00"},{"day":"THURSDAY","start":"22:00","end":"06:00"}]') RETURNING id`, s.org)
	s.exec(`UPDATE members SET shift_id = $2 WHERE org_id = $1 AND id IN ($3, $4, $5)`, s.org, day, rita, ravi, rosa)
	s.exec(`INSERT INTO holidays (org_id, date, name) VALUES ($1, '2026-12-25', 'Christmas Day'), ($1, '2027-01-01', 'New Year''s Day')`, s.org)
	seedRecords(s, []int64{owner, dan, mia, max, rita, ravi, rosa}, 300)
	return s.err
}

func seedGlobex(ctx context.Context, tx *sqlx.Tx, o *db.NewOrg, users map[string]int64) error {
	s := &seeder{ctx: ctx, tx: tx, org: o.Org.Key}
	std, ceo, owner := o.Standard.Key, o.TopRole.Key, o.Member.Key
	head := s.role("Country Head", ceo, false)
	sales := s.role("Account Executive", head, false)
	support := s.role("Support Agent", sales, false)
	mia := s.member(users["mia@acme.example"], head, std, owner)
	rita := s.member(users["rita@acme.example"], sales, std, mia)
	ravi := s.member(users["ravi@acme.example"], support, std, rita)
	s.exec(`INSERT INTO groups (org_id, name) VALUES ($1, 'DACH team')`, s.org)
	// In Globex, Standard may not see contacts' bank account numbers.
	s.exec(`INSERT INTO field_permissions (org_id, profile_id, module, field, access) VALUES ($1, $2, 'CONTACTS', 'bankAccountNumber', 'HIDDEN')`, s.org, std)
	seedRecords(s, []int64{owner, mia, rita, ravi}, 200)
	return s.err
}

// seedRecords bulk-inserts n records per module, owners in rotation, linked
// deals -> accounts and contacts, tasks -> deals, updated over two years.
func seedRecords(s *seeder, owners []int64, n int) {
	own := func(col string) string {
		return fmt.Sprintf("(ARRAY%v::bigint[])[1 + (%s %% %d)]", sqlArray(owners), col, len(owners))
	}
	ts := "now() - (g * interval '57 hours')"
	s.exec(`INSERT INTO accounts (org_id, owner_id, created_by, created_at, updated_at, name, industry, website, phone, annual_revenue)
		SELECT $1, `+own("g")+`, `+own("g")+`, `+ts+`, `+ts+`, 'Account ' || g,
		(ARRAY['Banking','Retail','Software','Energy','Healthcare'])[1 + g % 5], 'https://account' || g || '.example', '+1 555 ' || lpad(g::text, 4, '0'),
		(g * 37919 % 5000000)::numeric FROM generate_series(1, $2) g`, s.org, n)
	s.exec(`INSERT INTO contacts (org_id, owner_id, created_by, created_at, updated_at, first_name, last_name, email, account_id, mailing_city, bank_account_number)
		SELECT $1, `+own("g")+`, `+own("g")+`, `+ts+`, `+ts+`, (ARRAY['Ana','Ben','Chen','Dara','Eli'])[1 + g % 5], 'Contact' || g, 'contact' || g || '@mail.example',
		(SELECT id FROM accounts WHERE org_id = $1 ORDER BY id OFFSET (g % $2) LIMIT 1),
		(ARRAY['Berlin','Dubai','Austin','Pune','Lyon'])[1 + g % 5], 'DE' || lpad((g * 7919)::text, 20, '0') FROM generate_series(1, $2) g`, s.org, n)
	s.exec(`INSERT INTO leads (org_id, owner_id, created_by, created_at, updated_at, first_name, last_name, company, email, status, source, annual_revenue)
		SELECT $1, `+own("g")+`, `+own("g")+`, `+ts+`, `+ts+`, 'Lead', 'Prospect' || g, 'Company ' || g, 'lead' || g || '@mail.example',
		(ARRAY['New','Contacted','Qualified','Lost'])[1 + g % 4], (ARRAY['Web','Referral','Event'])[1 + g % 3], (g * 7907 % 900000)::numeric
		FROM generate_series(1, $2) g`, s.org, n)
	s.exec(`INSERT INTO deals (org_id, owner_id, created_by, created_at, updated_at, name, amount, stage, closing_date, probability, account_id, contact_id)
		SELECT $1, `+own("g")+`, `+own("g")+`, `+ts+`, `+ts+`, 'Deal ' || g, (g * 7741 % 120000)::numeric,
		(ARRAY['Qualification','Proposal','Negotiation','Closed Won','Closed Lost'])[1 + g % 5], (current_date + (g % 180))::date, (g * 13) % 101,
		(SELECT id FROM accounts WHERE org_id = $1 ORDER BY id OFFSET (g % $2) LIMIT 1),
		(SELECT id FROM contacts WHERE org_id = $1 ORDER BY id OFFSET ((g * 3) % $2) LIMIT 1) FROM generate_series(1, $2) g`, s.org, n)
	s.exec(`INSERT INTO tasks (org_id, owner_id, created_by, created_at, updated_at, subject, due_at, status, priority, related_module, related_id)
		SELECT $1, `+own("g")+`, `+own("g")+`, `+ts+`, `+ts+`, 'Follow up #' || g, now() + (g * interval '5 hours'),
		(ARRAY['Open','In Progress','Done'])[1 + g % 3], (ARRAY['Low','Normal','High'])[1 + g % 3], 'DEALS',
		(SELECT id FROM deals WHERE org_id = $1 ORDER BY id OFFSET (g % $2) LIMIT 1) FROM generate_series(1, $2) g`, s.org, n)
}

func sqlArray(ids []int64) string {
	out := "["
	for i, id := range ids {
		if i > 0 {
			out += ","
		}
		out += fmt.Sprint(id)
	}
	return out + "]"
}
