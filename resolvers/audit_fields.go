package resolvers

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/jmoiron/sqlx"

	"warden/access"
	"warden/graph/model"
	"warden/ids"
	"warden/records"
)

// Field-level security on the audit log (access-model.md: hidden fields are
// absent from every path out of the server). An audit entry is written once
// with everything it changed and read by many viewers, so the filter is
// applied on the way out, for the reader's profile:
//
//   - Record entries (targetType a module, "contacts"; or an entry whose
//     before/after names its "module") lose every key that names a field
//     HIDDEN from the reader, standard or custom, wherever it sits in the
//     entry; a condition object ({"field": f, "value": v}, as in a criteria
//     sharing rule) on such a field loses its value. A reader who may not
//     view the module sees none of its fields.
//   - Entries about the configuration itself (profiles, custom field
//     definitions, roles, members, groups, the org) carry no field values
//     and are shown as written.
//
// Record writes are audited as: action "record.create" / "record.update" /
// "record.delete", targetType the module in lower case ("contacts"),
// before/after objects keyed by field API name, custom fields included
// under their apiName, references as public ids. Bulk operations may write
// the same shape (or a list of such objects under any key, with "module"
// set): the filter applies to them alike.

// configTargets are target types whose entries carry no record field values.
var configTargets = map[string]bool{"profile": true, "customfield": true, "custom_field": true, "role": true,
	"member": true, "group": true, "org": true, "shift": true, "holiday": true, "user": true, "invitation": true,
	"fieldpermission": true}

// auditModule is the record module an entry is about, from its target type
// ("contacts", "contact", "CONTACTS") or its "module" key.
func auditModule(targetType string, v any) (access.Module, bool) {
	t := strings.ToUpper(strings.TrimSpace(targetType))
	for _, m := range records.AllModules {
		if t == string(m) || t+"S" == string(m) {
			return m, true
		}
	}
	if obj, ok := v.(map[string]any); ok {
		if s, ok := obj["module"].(string); ok {
			if m, err := access.ParseModule(s); err == nil {
				return m, true
			}
		}
	}
	return "", false
}

// auditValue is a stored before/after value as the reader may see it.
func (sc *scope) auditValue(ctx context.Context, targetType string, raw []byte) (any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if configTargets[strings.ToLower(targetType)] {
		return rawJSON(raw), nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	m, ok := auditModule(targetType, v)
	if !ok {
		return rawJSON(raw), nil
	}
	hidden, err := sc.hiddenFieldSet(ctx, m)
	if err != nil {
		return nil, err
	}
	if len(hidden) == 0 {
		return rawJSON(raw), nil
	}
	return redactHidden(v, hidden), nil
}

// hiddenFieldSet lists the fields of m, standard and custom, hidden from the
// viewer (every one of them when the viewer may not view m).
func (sc *scope) hiddenFieldSet(ctx context.Context, m access.Module) (map[string]bool, error) {
	custom, err := sc.customFields(ctx, m)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, f := range moduleFieldNames(m, custom) {
		if !sc.snap.CanReadField(sc.member.Key, m, f) {
			out[f] = true
		}
	}
	return out, nil
}

// redactHidden drops, at any depth, the keys naming hidden fields and the
// value of a condition on one.
func redactHidden(v any, hidden map[string]bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if hidden[k] {
				continue
			}
			out[k] = redactHidden(val, hidden)
		}
		for _, key := range []string{"field", "apiName"} {
			if f, ok := out[key].(string); ok && hidden[f] {
				for _, vk := range []string{"value", "values"} {
					if _, has := out[vk]; has {
						out[vk] = nil
					}
				}
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactHidden(e, hidden)
		}
		return out
	}
	return v
}

// recordAuditState is a record as its audit entry keeps it: the fields named
// (every field when names is nil), custom ones included, references as
// public ids.
func recordAuditState(rec records.Record, names []string) map[string]any {
	all := records.FieldValues(rec)
	all["id"] = records.PublicID(rec)
	all["owner"] = ids.Encode(ids.Member, rec.Base().OwnerID)
	ref := func(name string, m access.Module, key *int64) {
		if key != nil {
			all[name] = ids.Encode(records.MetaOf(m).IDKind, *key)
		} else {
			all[name] = nil
		}
	}
	switch v := rec.(type) {
	case *records.Contact:
		ref("account", records.Accounts, v.AccountID)
	case *records.Deal:
		ref("account", records.Accounts, v.AccountID)
		ref("contact", records.Contacts, v.ContactID)
	case *records.Task:
		if v.RelatedModule != nil {
			ref("relatedTo", access.Module(*v.RelatedModule), v.RelatedID)
		} else {
			all["relatedTo"] = nil
		}
	}
	if names == nil {
		return all
	}
	out := map[string]any{"id": all["id"]}
	for _, n := range names {
		out[n] = all[n] // absent (cleared) reads as null
	}
	return out
}

// auditRecord appends a record write to the audit log, in its transaction.
// before and after are recordAuditState values (nil for none).
func auditRecord(ctx context.Context, tx *sqlx.Tx, sc *scope, action string, rec records.Record, before, after map[string]any) error {
	var b, a any
	if before != nil {
		b = before
	}
	if after != nil {
		a = after
	}
	return audit(ctx, tx, sc, action, strings.ToLower(string(records.ModuleOf(rec))), rec.Base().Key, b, a)
}

// mergeCustom makes an update's custom column the record's custom values
// with the update's applied on top: db.UpdateRecord replaces the whole
// object, and an update names only the custom fields it writes, so without
// this it would erase the others, hidden ones included, which the writer
// may not even read. before is the row locked for the update.
func mergeCustom(before records.Record, cols map[string]any) {
	upd, ok := cols["custom"].(records.JSONMap)
	if !ok {
		return
	}
	merged := records.JSONMap{}
	for k, v := range before.Base().Custom {
		merged[k] = v
	}
	for k, v := range upd {
		if v == nil {
			delete(merged, k)
		} else {
			merged[k] = v
		}
	}
	cols["custom"] = merged
}

// ruleOutForReader is a sharing rule as a reader of the rule list sees it: a
// condition on a field hidden from the reader's profile keeps its field and
// operator but not its value ("bankAccount EQ <the account number>" would
// hand out the value the profile hides).
func (sc *scope) ruleOutForReader(rule *access.SharingRule) *model.SharingRule {
	out := sc.ruleOut(rule)
	if out.Criteria == nil {
		return out
	}
	for _, c := range out.Criteria.Conditions {
		if !sc.snap.CanReadField(sc.member.Key, rule.Module, c.Field) {
			c.Value = nil
		}
	}
	return out
}
