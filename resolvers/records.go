package resolvers

import (
	"context"
	"errors"
	"maps"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jmoiron/sqlx"

	"warden/access"
	"warden/apperr"
	"warden/db"
	"warden/graph/model"
	"warden/ids"
	"warden/records"
)

// page is one page of a record list, before it is shaped into its module's
// connection type.
type page struct {
	nodes []records.Record
	// cursors are the rows' cursors; only the last is set unless the
	// selection reads edges.cursor (see listRecords).
	cursors     []string
	hasNextPage bool
	totalCount  int
}

const maxPageSize = 100

// listRecords serves every record list: the visible set decided by
// @recordVisible, the filter and ordering checked against field-level
// security before any data is read, keyset pagination.
func (r *Resolver) listRecords(ctx context.Context, m access.Module, first int, after *string, filter map[string]any, orderBy []map[string]any) (*page, error) {
	sc, vis, err := visibleScope(ctx, m)
	if err != nil {
		return nil, err
	}
	if err := sc.requireModule(m, access.PermView); err != nil {
		return nil, err
	}
	if first < 1 || first > maxPageSize {
		return nil, apperr.NewBadInput("first must be between 1 and %d", maxPageSize)
	}
	if filter, err = plain(filter); err != nil {
		return nil, err
	}
	if orderBy, err = plain(orderBy); err != nil {
		return nil, err
	}
	meta := records.MetaOf(m)
	var custom []*records.CustomField
	if namesCustomField(filter, orderBy) {
		// The definitions are a query: only read them when the arguments
		// name a custom field.
		if custom, err = sc.customFields(ctx, m); err != nil {
			return nil, err
		}
	}
	expr, err := records.ParseFilter(meta, custom, filter)
	if err != nil {
		return nil, err
	}
	order, err := records.ParseOrder(meta, custom, orderBy)
	if err != nil {
		return nil, err
	}
	operands := expr.Operands()
	for _, k := range order {
		operands = append(operands, k.Operand)
	}
	if err := sc.checkReadableOperands(m, operands); err != nil {
		return nil, err
	}
	params := db.ListParams{Org: sc.org.Key, Meta: meta, Filter: expr, Order: order, First: first, Visible: vis}
	if after != nil && *after != "" {
		cur, err := sc.cursors.Decode(*after, sc.org.Key, string(m), order)
		if err != nil {
			return nil, err
		}
		params.After = &cur
	}
	fields := graphql.CollectFieldsCtx(ctx, nil)
	for _, f := range fields {
		switch f.Name {
		case "totalCount":
			params.WantCount = true
		case "edges", "pageInfo":
			params.WantRows = true
		}
	}
	res, err := db.ListRecords(ctx, r.DB, params)
	if err != nil {
		return nil, err
	}
	sel := edgesSelection(ctx)
	if err := prefetchRelated(ctx, sc, res.Rows, sel.node); err != nil {
		return nil, err
	}
	p := &page{nodes: res.Rows, hasNextPage: res.HasNextPage, totalCount: res.TotalCount,
		cursors: make([]string, len(res.Rows))}
	// Each cursor is signed (an HMAC): sign only those the client reads, the
	// edges' when it selects edges.cursor, else the last for endCursor.
	for i, rec := range res.Rows {
		if sel.cursor || i == len(res.Rows)-1 {
			p.cursors[i] = sc.cursors.Encode(db.CursorFor(rec, order))
		}
	}
	return p, nil
}

// namesCustomField reports whether a list's filter or ordering may name a
// custom field: a "custom" key at any depth of the filter (conditions nest
// under and/or), or a customField in an ordering. It errs on the side of
// yes; with no, the parsers get no definitions and refuse any custom name
// as unknown, so a wrong no could only fail a request, never widen one.
func namesCustomField(filter map[string]any, orderBy []map[string]any) bool {
	for _, item := range orderBy {
		if v, ok := item["customField"]; ok && v != nil {
			return true
		}
	}
	return mentionsKey(filter, "custom", 0)
}

func mentionsKey(v any, key string, depth int) bool {
	if depth > 32 {
		return true
	}
	switch t := v.(type) {
	case map[string]any:
		for k, sub := range t {
			if k == key && sub != nil {
				return true
			}
			if mentionsKey(sub, key, depth+1) {
				return true
			}
		}
	case []any:
		for _, sub := range t {
			if mentionsKey(sub, key, depth+1) {
				return true
			}
		}
	}
	return false
}

func (p *page) pageInfo() *model.PageInfo {
	pi := &model.PageInfo{HasNextPage: p.hasNextPage}
	if n := len(p.cursors); n > 0 {
		pi.EndCursor = &p.cursors[n-1]
	}
	return pi
}

// getRecord serves a lookup by id: null when the id is malformed, of another
// type or org, missing, or not visible — one answer for all of them.
func (r *Resolver) getRecord(ctx context.Context, m access.Module, id string) (records.Record, error) {
	// One record is checked from its own facts (scope.recordVisible): a
	// manager's whole visible set is not worked out for it.
	sc, err := recordScope(ctx, m)
	if err != nil {
		return nil, err
	}
	if err := sc.requireModule(m, access.PermView); err != nil {
		return nil, err
	}
	key, err := ids.Decode(records.MetaOf(m).IDKind, id)
	if err != nil || !sc.recordVisible(m, key) {
		return nil, nil
	}
	// The lookup knows its one key: it reads it now rather than wait out the
	// loader's gathering of keys that do not come. So do the related
	// members and records it selects, as a page does for its rows.
	if err := sc.loaders.PrefetchRecords(ctx, m, []int64{key}); err != nil {
		return nil, err
	}
	rec, err := sc.loaders.Record(ctx, m, key)
	if err != nil || rec == nil || isNilRecord(rec) {
		return rec, err
	}
	return rec, prefetchRelated(ctx, sc, []records.Record{rec}, fieldNames(graphql.CollectFieldsCtx(ctx, nil)))
}

// relatedRecord loads a record a field refers to, in the referring record's
// org; @recordVisible or the caller turns an invisible one into null.
func relatedRecord(ctx context.Context, from records.Record, m access.Module, key *int64) (records.Record, error) {
	if key == nil {
		return nil, nil
	}
	sc, err := scopeOfRecord(ctx, from)
	if err != nil {
		return nil, err
	}
	if !sc.snap.Can(sc.member.Key, m, access.PermView) || !sc.recordVisible(m, *key) {
		return nil, nil
	}
	return sc.loaders.Record(ctx, m, *key)
}

// customFieldsOf returns the record's custom field values the viewer may read.
func customFieldsOf(ctx context.Context, rec records.Record) ([]*model.CustomFieldValue, error) {
	sc, err := scopeOfRecord(ctx, rec)
	if err != nil {
		return nil, err
	}
	m := records.ModuleOf(rec)
	defs, err := sc.customFields(ctx, m)
	if err != nil {
		return nil, err
	}
	out := []*model.CustomFieldValue{}
	for _, d := range defs {
		if sc.fieldAccess(m, d.APIName) == access.FieldHidden {
			continue
		}
		out = append(out, &model.CustomFieldValue{APIName: d.APIName, Value: rec.Base().Custom[d.APIName]})
	}
	return out, nil
}

// recordAccess is the viewer's level and capped permissions on a record.
func recordAccess(ctx context.Context, rec records.Record) (*model.RecordAccess, error) {
	sc, err := scopeOfRecord(ctx, rec)
	if err != nil {
		return nil, err
	}
	e := sc.explain(records.ModuleOf(rec), rec.Base().Key)
	return &model.RecordAccess{Level: model.AccessLevel(e.Level.String()), CanRead: e.Permissions.Read,
		CanEdit: e.Permissions.Edit, CanDelete: e.Permissions.Delete, CanShare: e.Permissions.Share,
		CanChangeOwner: e.Permissions.ChangeOwner}, nil
}

// memberByKey loads a member of the record's org.
func memberOf(ctx context.Context, rec records.Record, key *int64) (*db.Member, error) {
	if key == nil {
		return nil, nil
	}
	sc, err := scopeOfRecord(ctx, rec)
	if err != nil {
		return nil, err
	}
	return sc.loaders.Member(ctx, *key)
}

// createRecord creates a record in the active org, owned by the caller
// unless ownerId names another member (which needs changeOwner).
func (r *Resolver) createRecord(ctx context.Context, m access.Module, input map[string]any) (records.Record, error) {
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	if err := sc.requireModule(m, access.PermCreate); err != nil {
		return nil, err
	}
	w, err := r.parseWrite(ctx, sc, m, input, true)
	if err != nil {
		return nil, err
	}
	owner := sc.member.Key
	if w.Owner != nil && *w.Owner != owner {
		if !sc.snap.Can(sc.member.Key, m, access.PermChangeOwner) {
			return nil, apperr.NewForbidden("creating a record for another owner needs the changeOwner permission on %s", m)
		}
		if om, ok := sc.snap.Member(*w.Owner); !ok || !om.Active {
			return nil, apperr.NewBadInput("ownerId does not name an active member of this org")
		}
		owner = *w.Owner
	}
	w.Columns["owner_id"] = owner
	w.Columns["created_by"] = sc.member.Key
	var rec records.Record
	err = r.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if rec, err = db.InsertRecord(ctx, tx, sc.org.Key, records.MetaOf(m), w.Columns); err != nil {
			return err
		}
		if err := auditRecord(ctx, tx, sc, "record.create", rec, nil, recordAuditState(rec, nil)); err != nil {
			return err
		}
		return logRecord(ctx, tx, rec)
	})
	if err != nil {
		return nil, err
	}
	sessionFrom(ctx).changed(sc.org.Key)
	return rec, nil
}

// updateRecord applies an update the viewer's level and profile allow.
func (r *Resolver) updateRecord(ctx context.Context, m access.Module, id string, input map[string]any) (records.Record, error) {
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	key, err := r.writableRecord(sc, m, id, access.PermEdit)
	if err != nil {
		return nil, err
	}
	w, err := r.parseWrite(ctx, sc, m, input, false)
	if err != nil {
		return nil, err
	}
	var rec records.Record
	err = r.inTx(ctx, func(tx *sqlx.Tx) error {
		before, err := db.GetRecordForUpdate(ctx, tx, sc.org.Key, records.MetaOf(m), key)
		if err != nil {
			return err
		}
		mergeCustom(before, w.Columns)
		if rec, err = db.UpdateRecord(ctx, tx, sc.org.Key, records.MetaOf(m), key, w.Columns); err != nil {
			return err
		}
		if err := auditRecord(ctx, tx, sc, "record.update", rec, recordAuditState(before, w.Fields), recordAuditState(rec, w.Fields)); err != nil {
			return err
		}
		return logRecord(ctx, tx, rec)
	})
	if errors.Is(err, db.ErrNotFound) {
		return nil, apperr.NewNotFound("no %s with id %s", m, id)
	}
	if err != nil {
		return nil, err
	}
	sessionFrom(ctx).changed(sc.org.Key)
	return rec, nil
}

// deleteRecord deletes a record; its children lose their parent, and the
// index learns both in the same transaction.
func (r *Resolver) deleteRecord(ctx context.Context, m access.Module, id string) (string, error) {
	sc, err := activeScope(ctx)
	if err != nil {
		return "", err
	}
	key, err := r.writableRecord(sc, m, id, access.PermDelete)
	if err != nil {
		return "", err
	}
	err = r.inTx(ctx, func(tx *sqlx.Tx) error {
		before, err := db.GetRecordForUpdate(ctx, tx, sc.org.Key, records.MetaOf(m), key)
		if err != nil {
			return err
		}
		if err := auditRecord(ctx, tx, sc, "record.delete", before, recordAuditState(before, nil), nil); err != nil {
			return err
		}
		orphans, err := db.DetachChildren(ctx, tx, sc.org.Key, m, key)
		if err != nil {
			return err
		}
		if err := db.DeleteRecord(ctx, tx, sc.org.Key, records.MetaOf(m), key); err != nil {
			return err
		}
		if err := db.LogSecurityChange(ctx, tx, sc.org.Key, db.ChangeRecordDelete, db.RecordChange{Module: m, ID: key}); err != nil {
			return err
		}
		for _, child := range orphans {
			if err := logRecord(ctx, tx, child); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, db.ErrNotFound) {
		return "", apperr.NewNotFound("no %s with id %s", m, id)
	}
	if err != nil {
		return "", err
	}
	sessionFrom(ctx).changed(sc.org.Key)
	return id, nil
}

// writableRecord checks that the viewer may act on the record with perm:
// NOT_FOUND when they cannot see it (like a missing id), FORBIDDEN when they
// see it but their level or profile does not allow the action.
func (r *Resolver) writableRecord(sc *scope, m access.Module, id string, perm access.Permission) (int64, error) {
	// Without view the whole module is closed (access-model.md, Profiles):
	// FORBIDDEN, as for its lists, before anything about the id is said.
	if err := sc.requireModule(m, access.PermView); err != nil {
		return 0, err
	}
	key, err := ids.Decode(records.MetaOf(m).IDKind, id)
	if err != nil || !sc.recordVisible(m, key) {
		return 0, apperr.NewNotFound("no %s with id %s", m, id)
	}
	if _, exists := sc.index.Record(m, key); !exists {
		// An administrator's visible set is every id: existence is the index's.
		return 0, apperr.NewNotFound("no %s with id %s", m, id)
	}
	e := sc.explain(m, key)
	allowed := false
	switch perm {
	case access.PermEdit:
		allowed = e.Permissions.Edit
	case access.PermDelete:
		allowed = e.Permissions.Delete
	case access.PermShare:
		allowed = e.Permissions.Share
	case access.PermChangeOwner:
		allowed = e.Permissions.ChangeOwner
	}
	if !allowed {
		return 0, apperr.NewForbidden("your access to %s %s (%s) does not allow %s", m, id, e.Level, perm)
	}
	return key, nil
}

// parseWrite checks an input: types, field-level security (READ_ONLY and
// HIDDEN fields cannot be written), and that every referenced record is one
// the viewer may see.
func (r *Resolver) parseWrite(ctx context.Context, sc *scope, m access.Module, input map[string]any, create bool) (*records.Write, error) {
	custom, err := sc.customFields(ctx, m)
	if err != nil {
		return nil, err
	}
	if input, err = plain(input); err != nil {
		return nil, err
	}
	w, err := records.ParseWrite(records.MetaOf(m), custom, input, create)
	if err != nil {
		return nil, err
	}
	for _, f := range w.Fields {
		if fa := sc.fieldAccess(m, f); fa != access.FieldReadWrite {
			return nil, apperr.NewFieldForbidden("field %s of %s is %s for your profile", f, m, fa)
		}
	}
	for _, ref := range w.Refs {
		_, exists := sc.index.Record(ref.Key.Module, ref.Key.ID) // the index holds this org's records only
		if ref.Key.ID == 0 || !exists || !sc.snap.Can(sc.member.Key, ref.Key.Module, access.PermView) || !sc.recordVisible(ref.Key.Module, ref.Key.ID) {
			return nil, apperr.NewBadInput("%s does not name a record you can see", ref.Field.InputKey())
		}
	}
	return w, nil
}

// logRecord records a record's index-relevant facts in the change log, in
// the write's transaction.
func logRecord(ctx context.Context, tx *sqlx.Tx, rec records.Record) error {
	err := db.LogSecurityChange(ctx, tx, rec.Base().OrgID, db.ChangeRecordUpsert, recordChange(rec))
	return err
}

// recordChange is the change-log payload of a written record: what the
// access index keeps of it.
func recordChange(rec records.Record) db.RecordChange {
	rc := db.RecordChange{Module: records.ModuleOf(rec), ID: rec.Base().Key, Owner: rec.Base().OwnerID, Fields: records.FieldValues(rec)}
	if pm, pid, ok := records.ParentOf(rec); ok {
		rc.Parent = &access.RecordRef{Module: pm, ID: pid}
	}
	return rc
}

// inTx runs fn in a transaction, committed when fn returns nil.
func (r *Resolver) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := r.DB.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// prefetchRelated loads, in one query per kind, the members and parent
// records that the page's selection (want: the fields selected on
// edges.node) asks for, so a page costs a constant number of queries however
// the resolvers of its rows are scheduled.
func prefetchRelated(ctx context.Context, sc *scope, rows []records.Record, want map[string]bool) error {
	if len(rows) == 0 {
		return nil
	}
	var members []int64
	refs := map[access.Module][]int64{}
	for _, rec := range rows {
		h := rec.Base()
		if want["owner"] {
			members = append(members, h.OwnerID)
		}
		if want["createdBy"] && h.CreatedByID != nil {
			members = append(members, *h.CreatedByID)
		}
		switch v := rec.(type) {
		case *records.Contact:
			if want["account"] && v.AccountID != nil {
				refs[records.Accounts] = append(refs[records.Accounts], *v.AccountID)
			}
		case *records.Deal:
			if want["account"] && v.AccountID != nil {
				refs[records.Accounts] = append(refs[records.Accounts], *v.AccountID)
			}
			if want["contact"] && v.ContactID != nil {
				refs[records.Contacts] = append(refs[records.Contacts], *v.ContactID)
			}
		case *records.Task:
			if want["relatedTo"] && v.RelatedID != nil && v.RelatedModule != nil {
				m := access.Module(*v.RelatedModule)
				refs[m] = append(refs[m], *v.RelatedID)
			}
		}
	}
	if len(members) > 0 {
		if err := sc.loaders.PrefetchMembers(ctx, members); err != nil {
			return err
		}
	}
	for m, keys := range refs {
		var visible []int64
		for _, k := range keys {
			if sc.recordVisible(m, k) {
				visible = append(visible, k)
			}
		}
		if err := sc.loaders.PrefetchRecords(ctx, m, visible); err != nil {
			return err
		}
	}
	return nil
}

// listSelection is what a list's selection reads of its edges.
type listSelection struct {
	node   map[string]bool // the fields selected on edges.node
	cursor bool            // edges.cursor is selected
}

// fieldNames is the set of the fields' names: what a selection asks for.
func fieldNames(fields []graphql.CollectedField) map[string]bool {
	out := make(map[string]bool, len(fields))
	for _, f := range fields {
		out[f.Name] = true
	}
	return out
}

// edgesSelection reads the selection of the list being resolved. Fragments
// count whatever their type condition, so it may over-state, never miss.
func edgesSelection(ctx context.Context) listSelection {
	out := listSelection{node: map[string]bool{}}
	if !graphql.HasOperationContext(ctx) {
		out.cursor = true // outside an operation nothing can be told: sign them all
		return out
	}
	oc := graphql.GetOperationContext(ctx)
	for _, edges := range graphql.CollectFieldsCtx(ctx, nil) {
		if edges.Name != "edges" {
			continue
		}
		for _, f := range graphql.CollectFields(oc, edges.Selections, nil) {
			switch f.Name {
			case "cursor":
				out.cursor = true
			case "node":
				maps.Copy(out.node, fieldNames(graphql.CollectFields(oc, f.Selections, nil)))
			}
		}
	}
	return out
}
