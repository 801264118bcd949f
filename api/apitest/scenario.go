package apitest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"warden/access"
	"warden/access/scenariotest"
	"warden/auth"
	"warden/records"
)

// LoadedScenario is a scenario file written to the database as one org.
type LoadedScenario struct {
	Scenario *scenariotest.Scenario
	OrgID    int64
	Members  map[string]int64 // local name -> member key
	Users    map[string]int64 // local member name -> user key
	Records  map[string]int64 // "MODULE/local" -> record key
	byKey    map[int64]string
	conn     *sqlx.DB // where Token records its session
}

// LocalRecord names a record key as the scenario file does.
func (l *LoadedScenario) LocalRecord(module access.Module, key int64) string { return l.byKey[key] }

// Token signs a token for the member's user, as login would.
func (l *LoadedScenario) Token(t interface{ Fatal(...any) }, member string) string {
	iss, err := auth.NewIssuer(Secret, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := SessionToken(iss, l.conn, l.Users[member])
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// LoadScenario writes a scenario org with plain SQL, the way the data would
// stand after the administration API had built it.
func LoadScenario(ctx context.Context, conn *sqlx.DB, s *scenariotest.Scenario) (*LoadedScenario, error) {
	f := s.File
	out := &LoadedScenario{Scenario: s, Members: map[string]int64{}, Users: map[string]int64{}, Records: map[string]int64{}, byKey: map[int64]string{}, conn: conn}
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	q := func(dst any, query string, args ...any) {
		if err == nil {
			if dst == nil {
				_, err = tx.ExecContext(ctx, query, args...)
			} else {
				err = tx.GetContext(ctx, dst, query, args...)
			}
			if err != nil {
				err = fmt.Errorf("%s: %w", query, err)
			}
		}
	}
	mode := f.HierarchyMode
	if mode == "" {
		mode = "ROLE"
	}
	q(&out.OrgID, `INSERT INTO orgs (name, hierarchy_mode) VALUES ($1, $2) RETURNING id`, f.Name, mode)
	roles := map[string]int64{}
	for _, r := range f.Roles {
		var id int64
		q(&id, `INSERT INTO roles (org_id, name, share_with_peers) VALUES ($1, $2, $3) RETURNING id`, out.OrgID, r.Name, r.ShareWithPeers)
		roles[r.ID] = id
	}
	for _, r := range f.Roles {
		if r.Parent != nil {
			q(nil, `UPDATE roles SET parent_id = $3 WHERE org_id = $1 AND id = $2`, out.OrgID, roles[r.ID], roles[*r.Parent])
		}
	}
	profiles := map[string]int64{}
	for _, p := range f.Profiles {
		perms, _ := json.Marshal(p.Modules)
		if p.Modules == nil {
			perms = []byte("{}")
		}
		// As text: []byte parameters go over in binary (db.ConnString).
		var id int64
		q(&id, `INSERT INTO profiles (org_id, name, is_admin, module_permissions) VALUES ($1, $2, $3, $4) RETURNING id`, out.OrgID, p.ID, p.Administrator, string(perms))
		profiles[p.ID] = id
	}
	for _, m := range f.Members {
		var uid, mid int64
		q(&uid, `INSERT INTO users (email, name) VALUES ($1, $2) RETURNING id`, fmt.Sprintf("%s@org%d.scenario.test", m.ID, out.OrgID), m.ID)
		status := "ACTIVE"
		if m.Active != nil && !*m.Active {
			status = "INACTIVE"
		}
		q(&mid, `INSERT INTO members (org_id, user_id, role_id, profile_id, status) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			out.OrgID, uid, roles[m.Role], profiles[m.Profile], status)
		out.Users[m.ID], out.Members[m.ID] = uid, mid
	}
	for _, m := range f.Members {
		if m.ReportsTo != nil {
			q(nil, `UPDATE members SET reports_to_id = $3 WHERE org_id = $1 AND id = $2`, out.OrgID, out.Members[m.ID], out.Members[*m.ReportsTo])
		}
	}
	groups := map[string]int64{}
	for _, g := range f.Groups {
		var id int64
		q(&id, `INSERT INTO groups (org_id, name) VALUES ($1, $2) RETURNING id`, out.OrgID, g.ID)
		groups[g.ID] = id
	}
	principal := func(p scenariotest.FilePrincipal) int64 {
		switch p.Type {
		case "USER":
			return out.Members[p.ID]
		case "ROLE", "ROLE_AND_SUBORDINATES":
			return roles[p.ID]
		}
		return groups[p.ID]
	}
	for _, g := range f.Groups {
		for _, p := range g.Members {
			q(nil, `INSERT INTO group_members (org_id, group_id, principal_type, principal_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
				out.OrgID, groups[g.ID], p.Type, principal(p))
		}
	}
	for mod, d := range f.OrgDefaults {
		q(nil, `INSERT INTO module_sharing (org_id, module, default_access) VALUES ($1, $2, $3)`, out.OrgID, mod, d)
	}
	for _, r := range f.SharingRules {
		name := r.Name
		if name == "" {
			name = r.ID
		}
		if r.Criteria != nil {
			c := access.Criteria{Op: access.LogicalOp(r.Criteria.Op)}
			for _, cond := range r.Criteria.Conditions {
				c.Conditions = append(c.Conditions, access.Condition{Field: cond.Field, Op: access.ConditionOp(cond.Op), Value: cond.Value})
			}
			cj, _ := json.Marshal(c)
			q(nil, `INSERT INTO sharing_rules (org_id, module, name, criteria, target_type, target_id, access, superiors_allowed)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, out.OrgID, r.Module, name, string(cj), r.Target.Type, principal(r.Target), r.Access, r.SuperiorsAllowed)
		} else {
			q(nil, `INSERT INTO sharing_rules (org_id, module, name, source_type, source_id, target_type, target_id, access, superiors_allowed)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, out.OrgID, r.Module, name, r.Source.Type, principal(*r.Source),
				r.Target.Type, principal(r.Target), r.Access, r.SuperiorsAllowed)
		}
	}
	if err != nil {
		return nil, err
	}
	// Parents first, so children can reference them.
	order := []string{"ACCOUNTS", "CONTACTS", "LEADS", "DEALS", "TASKS"}
	for _, mod := range order {
		for _, rec := range f.Records {
			if rec.Module != mod {
				continue
			}
			meta := records.MetaOf(access.Module(mod))
			cols := map[string]any{"owner_id": out.Members[rec.Owner]}
			for name, v := range rec.Fields {
				fld := meta.Field(name)
				if fld == nil {
					return nil, fmt.Errorf("%s: unknown field %s.%s", f.Name, mod, name)
				}
				cols[fld.Column] = v
			}
			if rec.Account != nil {
				cols["account_id"] = out.Records[rec.Account.Module+"/"+rec.Account.ID]
			}
			if rec.RelatedTo != nil {
				cols["related_module"] = rec.RelatedTo.Module
				cols["related_id"] = out.Records[rec.RelatedTo.Module+"/"+rec.RelatedTo.ID]
			}
			var names, params []string
			var args []any
			args = append(args, out.OrgID)
			for c, v := range cols {
				names = append(names, c)
				args = append(args, v)
				params = append(params, fmt.Sprintf("$%d", len(args)))
			}
			var id int64
			q(&id, fmt.Sprintf(`INSERT INTO %s (org_id, %s) VALUES ($1, %s) RETURNING id`, meta.Table, join(names), join(params)), args...)
			out.Records[mod+"/"+rec.ID] = id
			out.byKey[id] = mod + "/" + rec.ID
		}
	}
	// A file may share one record with one principal twice: both grants
	// apply, which one merged share (the higher level, related if either
	// is) expresses exactly.
	for _, sh := range f.Shares {
		q(nil, `INSERT INTO record_shares (org_id, module, record_id, principal_type, principal_id, access, include_related)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (org_id, module, record_id, principal_type, principal_id) DO UPDATE SET
				include_related = record_shares.include_related OR EXCLUDED.include_related,
				access = CASE WHEN array_position(ARRAY['READ_ONLY','READ_WRITE','FULL_ACCESS'], EXCLUDED.access)
				                 > array_position(ARRAY['READ_ONLY','READ_WRITE','FULL_ACCESS'], record_shares.access)
				              THEN EXCLUDED.access ELSE record_shares.access END`, out.OrgID, sh.Module, out.Records[sh.Module+"/"+sh.Record], sh.Principal.Type, principal(sh.Principal), sh.Access, sh.IncludeRelated)
	}
	if err != nil {
		return nil, err
	}
	return out, tx.Commit()
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
