package resolvers

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"warden/access"
	"warden/apperr"
	"warden/db"
	"warden/graph/model"
	"warden/ids"
	"warden/records"
)

// Org settings (manageSharing) and the audit log (viewAuditLog).

func (r *Resolver) setHierarchyMode(ctx context.Context, mode model.HierarchyMode) (*model.OrgSettings, error) {
	if _, err := access.ParseHierarchyMode(string(mode)); err != nil {
		return nil, apperr.NewBadInput("unknown hierarchy mode %q", mode)
	}
	err := r.changeOrg(ctx, access.SetupManageSharing, false, func(c *orgChange) error {
		before := c.snap.HierarchyMode().String()
		if before == string(mode) {
			return nil // nothing changes: nothing written
		}
		if err := db.SetHierarchyMode(ctx, c.tx, c.sc.org.Key, string(mode)); err != nil {
			return err
		}
		return c.record(ctx, "org.setHierarchyMode", "org", c.sc.org.Key,
			map[string]any{"hierarchyMode": before}, map[string]any{"hierarchyMode": string(mode)})
	})
	if err != nil {
		return nil, err
	}
	return settingsNow(ctx)
}

func (r *Resolver) setModuleSharing(ctx context.Context, module model.Module, defaultAccess model.DefaultAccess) (*model.OrgSettings, error) {
	m := access.Module(module)
	if !m.Valid() {
		return nil, apperr.NewBadInput("unknown module %q", module)
	}
	if _, err := access.DefaultAccess(defaultAccess).Level(); err != nil {
		return nil, apperr.NewBadInput("unknown default access %q", defaultAccess)
	}
	err := r.changeOrg(ctx, access.SetupManageSharing, false, func(c *orgChange) error {
		before, err := db.ModuleDefault(ctx, c.tx, c.sc.org.Key, string(m))
		if err != nil {
			return err
		}
		if before == string(defaultAccess) {
			return nil // nothing changes: nothing written
		}
		if err := db.SetModuleDefault(ctx, c.tx, c.sc.org.Key, string(m), string(defaultAccess)); err != nil {
			return err
		}
		return c.record(ctx, "org.setModuleSharing", "org", c.sc.org.Key,
			map[string]any{"module": string(m), "defaultAccess": before},
			map[string]any{"module": string(m), "defaultAccess": string(defaultAccess)})
	})
	if err != nil {
		return nil, err
	}
	return settingsNow(ctx)
}

// settingsNow is the org's settings after a change: adminWrite dropped the
// request's scopes, so this reads the state the change produced.
func settingsNow(ctx context.Context) (*model.OrgSettings, error) {
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	return orgSettings(sc), nil
}

// auditOrder is the audit log's one ordering, newest first; its cursors are
// signed for it, the org and the "AUDIT" list, like record cursors.
var auditOrder = records.Order{{Operand: records.Operand{Field: &records.Field{Name: "id", Kind: records.KindInt}}, Desc: true}}

func (r *Resolver) encodeAuditCursor(sc *scope, id int64) string {
	return sc.cursors.Encode(records.Cursor{Org: sc.org.Key, Module: "AUDIT", Sig: auditOrder.Signature(), Values: []any{id}, ID: id})
}

func (r *Resolver) decodeAuditCursor(s string, sc *scope) (int64, error) {
	cur, err := sc.cursors.Decode(s, sc.org.Key, "AUDIT", auditOrder)
	if err != nil {
		return 0, err
	}
	return cur.ID, nil
}

// auditTargetKinds maps an audit entry's target type to the kind of its
// target's public id. Target types are lower-case id kinds by convention
// ("role", "member", "org"); the aliases cover spellings in use.
var auditTargetKinds = map[string]ids.Kind{
	"sharingrule": ids.Rule, "sharing_rule": ids.Rule, "customfield": ids.Field, "custom_field": ids.Field,
	"fieldpermission": ids.Profile, "leads": ids.Lead, "contacts": ids.Contact, "accounts": ids.Account,
	"deals": ids.Deal, "tasks": ids.Task,
}

func auditTargetID(targetType string, id int64) *string {
	t := strings.ToLower(targetType)
	kind, ok := auditTargetKinds[t]
	if !ok {
		kind = ids.Kind(t)
	}
	s := ids.Encode(kind, id)
	return &s
}

func (r *Resolver) auditLog(ctx context.Context, first int, after *string, filter *model.AuditFilter) (*model.AuditEntryConnection, error) {
	sc, err := adminScope(ctx, access.SetupViewAuditLog)
	if err != nil {
		return nil, err
	}
	if first < 1 || first > maxPageSize {
		return nil, apperr.NewBadInput("first must be between 1 and %d", maxPageSize)
	}
	var f db.AuditFilter
	if filter != nil {
		if filter.Action != nil {
			f.Action = *filter.Action
		}
		if filter.TargetType != nil {
			f.TargetType = *filter.TargetType
		}
		if filter.ActorID != nil {
			key, err := ids.Decode(ids.Member, *filter.ActorID)
			if _, ok := sc.snap.Member(key); err != nil || !ok {
				return nil, apperr.NewNotFound("actorId: no member with id %s in this org", *filter.ActorID)
			}
			f.ActorID = key
		}
	}
	var before int64
	if after != nil && *after != "" {
		if before, err = r.decodeAuditCursor(*after, sc); err != nil {
			return nil, err
		}
	}
	wantCount := false
	for _, fld := range graphql.CollectFieldsCtx(ctx, nil) {
		if fld.Name == "totalCount" {
			wantCount = true
		}
	}
	page, err := db.ListAudit(ctx, r.DB, sc.org.Key, f, before, first, wantCount)
	if err != nil {
		return nil, err
	}
	var actorKeys []int64
	for _, row := range page.Rows {
		if row.ActorID.Valid {
			actorKeys = append(actorKeys, row.ActorID.Int64)
		}
	}
	actors := map[int64]*db.Member{}
	if len(actorKeys) > 0 {
		if actors, err = db.MembersByIDs(ctx, r.DB, sc.org.Key, actorKeys); err != nil {
			return nil, err
		}
	}
	conn := &model.AuditEntryConnection{Edges: []*model.AuditEntryEdge{}, PageInfo: &model.PageInfo{HasNextPage: page.HasNextPage},
		TotalCount: page.TotalCount}
	for _, row := range page.Rows {
		e := &model.AuditEntry{ID: ids.Encode(ids.Audit, row.Key), At: row.At, Action: row.Action, TargetType: row.TargetType}
		// Field values hidden from the reader's profile are left out (audit_fields.go).
		if e.Before, err = sc.auditValue(ctx, row.TargetType, row.Before); err != nil {
			return nil, err
		}
		if e.After, err = sc.auditValue(ctx, row.TargetType, row.After); err != nil {
			return nil, err
		}
		if row.ActorID.Valid {
			e.Actor = actors[row.ActorID.Int64]
		}
		if row.TargetID.Valid {
			e.TargetID = auditTargetID(row.TargetType, row.TargetID.Int64)
		}
		c := r.encodeAuditCursor(sc, row.Key)
		conn.Edges = append(conn.Edges, &model.AuditEntryEdge{Cursor: c, Node: e})
		conn.PageInfo.EndCursor = &c
	}
	return conn, nil
}

// rawJSON is a stored JSON value as the API returns it: as stored, null for none.
func rawJSON(b []byte) any {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	return json.RawMessage(b)
}
