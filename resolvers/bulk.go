package resolvers

import (
	"context"
	"errors"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jmoiron/sqlx"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"warden/access"
	"warden/apperr"
	"warden/db"
	"warden/graph/model"
	"warden/ids"
	"warden/records"
)

// Bulk work on records (this file, bulk_export.go, bulk_import.go):
// transferOwnership, massUpdate and massDelete check
// every record exactly as the single-record writes do (writableRecord,
// parseWrite) before anything is written, then write all of them in one
// transaction with the same change-log entries, so the access index stays
// exact and every instance sees the change when the mutation returns.
// exportRecords reads through the list query's path; importRecords checks
// every row through parseWrite before writing any.

// Limits of one bulk call.
const (
	maxBulkIDs      = 500
	maxExportRows   = 100_000
	exportPageSize  = 1000
	maxImportRows   = 10_000
	maxImportBytes  = 8 << 20
	maxImportErrors = 1000
)

// moduleInputKeys are the keys of MassUpdateInput and RecordFilter, one per
// module.
var moduleInputKeys = map[access.Module]string{
	records.Leads: "lead", records.Contacts: "contact", records.Accounts: "account",
	records.Deals: "deal", records.Tasks: "task",
}

// recordError names the record a bulk call failed on, in the message and
// in extensions.recordId, so a client can point at it.
func recordError(ctx context.Context, id string, err error) error {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return err
	}
	return &gqlerror.Error{Err: err, Message: ae.Msg, Path: graphql.GetPath(ctx),
		Extensions: map[string]any{"recordId": id}}
}

// bulkIDs checks the size of an id list and drops repeats, keeping the
// first occurrence's place.
func bulkIDs(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, apperr.NewBadInput("ids must name at least one record")
	}
	if len(in) > maxBulkIDs {
		return nil, apperr.NewLimitExceeded("at most %d ids per call; got %d", maxBulkIDs, len(in))
	}
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, id := range in {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// bulkTarget is a bulk write's records, checked: their public ids and keys
// in the caller's order.
type bulkTarget struct {
	m    access.Module
	ids  []string
	keys []int64
}

// checkRecords asks writableRecord, record by record, whether the viewer
// may act on each with perm; the first record that fails is named. An id
// that is invisible, of another org or type, or missing gets one answer:
// NOT_FOUND.
func (r *Resolver) checkRecords(ctx context.Context, sc *scope, m access.Module, in []string, perm access.Permission) (*bulkTarget, error) {
	list, err := bulkIDs(in)
	if err != nil {
		return nil, err
	}
	t := &bulkTarget{m: m, ids: list, keys: make([]int64, len(list))}
	for i, id := range list {
		key, err := r.writableRecord(sc, m, id, perm)
		if err != nil {
			return nil, recordError(ctx, id, err)
		}
		t.keys[i] = key
	}
	return t, nil
}

// lock locks the target's rows in the transaction and returns them by key;
// a record deleted since it was checked fails the call, named.
func (t *bulkTarget) lock(ctx context.Context, tx *sqlx.Tx, sc *scope) (map[int64]records.Record, error) {
	locked, err := db.LockRecords(ctx, tx, sc.org.Key, records.MetaOf(t.m), t.keys)
	if err != nil {
		return nil, err
	}
	for i, k := range t.keys {
		if _, ok := locked[k]; !ok {
			return nil, recordError(ctx, t.ids[i], apperr.NewNotFound("no %s with id %s", t.m, t.ids[i]))
		}
	}
	return locked, nil
}

// logUpserts logs the written records' facts for the index, in the
// target's order.
func (t *bulkTarget) logUpserts(ctx context.Context, tx *sqlx.Tx, sc *scope, written map[int64]records.Record) error {
	payloads := make([]any, 0, len(t.keys))
	for i, k := range t.keys {
		rec, ok := written[k]
		if !ok {
			return recordError(ctx, t.ids[i], apperr.NewNotFound("no %s with id %s", t.m, t.ids[i]))
		}
		payloads = append(payloads, recordChange(rec))
	}
	err := db.LogSecurityChanges(ctx, tx, sc.org.Key, db.ChangeRecordUpsert, payloads)
	return err
}

// recordAuditEntry is the audit entry auditRecord (audit_fields.go) writes
// for a single-record write, so bulk writes read the same in the audit log
// and field-level security redacts them alike.
func recordAuditEntry(action string, rec records.Record, before, after map[string]any) db.AuditEntry {
	e := db.AuditEntry{Action: action, TargetType: strings.ToLower(string(records.ModuleOf(rec))), TargetID: rec.Base().Key}
	if before != nil {
		e.Before = before
	}
	if after != nil {
		e.After = after
	}
	return e
}

// auditUpdates appends one "record.update" entry per written record with
// the named fields before and after, in the target's order.
func (t *bulkTarget) auditUpdates(ctx context.Context, tx *sqlx.Tx, sc *scope, locked, written map[int64]records.Record, fields []string) error {
	entries := make([]db.AuditEntry, 0, len(t.keys))
	for _, k := range t.keys {
		entries = append(entries, recordAuditEntry("record.update", written[k], recordAuditState(locked[k], fields), recordAuditState(written[k], fields)))
	}
	return db.AuditMany(ctx, tx, sc.org.Key, sc.member.Key, entries)
}

func (t *bulkTarget) result() *model.BulkResult {
	return &model.BulkResult{Count: len(t.ids), Ids: t.ids}
}

// transferOwnership gives records to another active member: changeOwner on
// the module, and on each record the access that permits an owner change.
func (r *Resolver) transferOwnership(ctx context.Context, module model.Module, in []string, newOwnerID string) (*model.BulkResult, error) {
	m := access.Module(module)
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	if err := sc.requireModule(m, access.PermChangeOwner); err != nil {
		return nil, err
	}
	owner, err := ids.Decode(ids.Member, newOwnerID)
	if om, ok := sc.snap.Member(owner); err != nil || !ok || !om.Active {
		return nil, apperr.NewBadInput("newOwnerId does not name an active member of this org")
	}
	t, err := r.checkRecords(ctx, sc, m, in, access.PermChangeOwner)
	if err != nil {
		return nil, err
	}
	return r.updateAll(ctx, sc, t, map[string]any{"owner_id": owner}, []string{"owner"})
}

// updateAll sets the same columns on every checked record, in one
// transaction with their change-log and audit entries.
func (r *Resolver) updateAll(ctx context.Context, sc *scope, t *bulkTarget, cols map[string]any, fields []string) (*model.BulkResult, error) {
	err := r.inTx(ctx, func(tx *sqlx.Tx) error {
		locked, err := t.lock(ctx, tx, sc)
		if err != nil {
			return err
		}
		written, err := db.UpdateRecords(ctx, tx, sc.org.Key, records.MetaOf(t.m), t.keys, cols)
		if err != nil {
			return err
		}
		if err := t.logUpserts(ctx, tx, sc, written); err != nil {
			return err
		}
		return t.auditUpdates(ctx, tx, sc, locked, written, fields)
	})
	if err != nil {
		return nil, err
	}
	sessionFrom(ctx).changed(sc.org.Key)
	return t.result(), nil
}

// massUpdate applies one update input to every record: massUpdate and edit
// on the module, the input checked as updateX checks it (types, READ_ONLY
// and HIDDEN fields, references), edit access on each record.
func (r *Resolver) massUpdate(ctx context.Context, module model.Module, in []string, input map[string]any) (*model.BulkResult, error) {
	m := access.Module(module)
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	if err := sc.requireModule(m, access.PermEdit); err != nil {
		return nil, err
	}
	if err := sc.requireModule(m, access.PermMassUpdate); err != nil {
		return nil, err
	}
	update, err := moduleInput(m, input, "input")
	if err != nil {
		return nil, err
	}
	w, err := r.parseWrite(ctx, sc, m, update, false)
	if err != nil {
		return nil, err
	}
	if len(w.Columns) == 0 {
		return nil, apperr.NewBadInput("input sets no field")
	}
	t, err := r.checkRecords(ctx, sc, m, in, access.PermEdit)
	if err != nil {
		return nil, err
	}
	return r.updateAll(ctx, sc, t, w.Columns, w.Fields)
}

// massDelete deletes records: massDelete and delete on the module, delete
// access on each record; children lose their reference as deleteX does.
func (r *Resolver) massDelete(ctx context.Context, module model.Module, in []string) (*model.BulkResult, error) {
	m := access.Module(module)
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	if err := sc.requireModule(m, access.PermDelete); err != nil {
		return nil, err
	}
	if err := sc.requireModule(m, access.PermMassDelete); err != nil {
		return nil, err
	}
	t, err := r.checkRecords(ctx, sc, m, in, access.PermDelete)
	if err != nil {
		return nil, err
	}
	err = r.inTx(ctx, func(tx *sqlx.Tx) error {
		locked, err := t.lock(ctx, tx, sc)
		if err != nil {
			return err
		}
		deleted, orphans, err := db.DeleteRecords(ctx, tx, sc.org.Key, m, t.keys)
		if err != nil {
			return err
		}
		if len(deleted) != len(t.keys) {
			return errors.New("mass delete: locked records went missing")
		}
		payloads := make([]any, 0, len(t.keys))
		for _, k := range t.keys {
			payloads = append(payloads, db.RecordChange{Module: m, ID: k})
		}
		if err := db.LogSecurityChanges(ctx, tx, sc.org.Key, db.ChangeRecordDelete, payloads); err != nil {
			return err
		}
		payloads = payloads[:0]
		for _, child := range orphans {
			payloads = append(payloads, recordChange(child))
		}
		if err := db.LogSecurityChanges(ctx, tx, sc.org.Key, db.ChangeRecordUpsert, payloads); err != nil {
			return err
		}
		entries := make([]db.AuditEntry, 0, len(t.keys))
		for _, k := range t.keys {
			entries = append(entries, recordAuditEntry("record.delete", locked[k], recordAuditState(locked[k], nil), nil))
		}
		return db.AuditMany(ctx, tx, sc.org.Key, sc.member.Key, entries)
	})
	if err != nil {
		return nil, err
	}
	sessionFrom(ctx).changed(sc.org.Key)
	return t.result(), nil
}

// moduleInput picks the module's key out of a one-key-per-module input
// (MassUpdateInput, RecordFilter); nil when the input is nil.
func moduleInput(m access.Module, in map[string]any, arg string) (map[string]any, error) {
	if in == nil {
		return nil, nil
	}
	key, ok := moduleInputKeys[m]
	if !ok {
		return nil, apperr.NewBadInput("unknown module %s", m)
	}
	for k := range in {
		if k != key {
			return nil, apperr.NewBadInput("%s is for %s: set %s.%s, not %s.%s", arg, m, arg, key, arg, k)
		}
	}
	v, _ := in[key].(map[string]any)
	if v == nil {
		return nil, apperr.NewBadInput("%s.%s is required for %s", arg, key, m)
	}
	return v, nil
}
