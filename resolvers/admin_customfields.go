package resolvers

import (
	"context"
	"errors"
	"slices"
	"strings"

	"warden/access"
	"warden/apperr"
	"warden/db"
	"warden/graph/model"
	"warden/ids"
	"warden/records"
)

// Custom field definitions (manageProfiles: access-model.md names no setup
// permission of their own, and a field's visibility is set in profiles).
// Values are checked by type on every write (records.ParseWrite); custom
// fields take part in filters, ordering and field-level security under their
// apiName exactly as standard fields do. A field a criteria sharing rule
// reads cannot be deleted or retyped: the rule would silently stop matching
// (or match differently), which changes who sees what.

func fieldDefinitionOut(cf *records.CustomField) *model.FieldDefinition {
	pl := cf.Picklist
	if pl == nil {
		pl = []string{}
	}
	return &model.FieldDefinition{ID: ids.Encode(ids.Field, cf.ID), Module: model.Module(cf.Module), APIName: cf.APIName,
		Label: cf.Label, Type: model.CustomFieldType(cf.Type), PicklistValues: pl}
}

// customFieldState is a definition as the audit log keeps it.
func customFieldState(cf *records.CustomField) *model.FieldDefinition { return fieldDefinitionOut(cf) }

func customFieldTypeIn(t model.CustomFieldType) (string, error) {
	if !records.ValidCustomFieldType(string(t)) {
		return "", apperr.NewBadInput("unknown custom field type %q", string(t))
	}
	return string(t), nil
}

// customFieldIn resolves a custom field id of the org.
func (c *orgChange) customFieldIn(ctx context.Context, id string) (*records.CustomField, error) {
	if key, err := ids.Decode(ids.Field, id); err == nil {
		cf, err := db.CustomFieldByID(ctx, c.tx, c.sc.org.Key, key)
		if err == nil {
			return cf, nil
		}
		if !errors.Is(err, db.ErrNotFound) {
			return nil, err
		}
	}
	return nil, apperr.NewNotFound("no custom field with id %s in this org", id)
}

// rulesReading names the criteria sharing rules of the module that read the
// field, in the locked state.
func (c *orgChange) rulesReading(m access.Module, field string) []string {
	var out []string
	for _, rule := range c.snap.Rules(m) {
		if rule.Criteria != nil && slices.Contains(access.ReferencedFields(rule.Criteria), field) {
			out = append(out, `"`+rule.Name+`"`)
		}
	}
	return out
}

func (r *Resolver) customFieldDefinitions(ctx context.Context, module model.Module) ([]*model.FieldDefinition, error) {
	sc, err := activeScope(ctx)
	if err != nil {
		return nil, err
	}
	m, err := moduleIn(module)
	if err != nil {
		return nil, err
	}
	if !sc.snap.HasSetup(sc.member.Key, access.SetupManageProfiles) {
		if err := sc.requireModule(m, access.PermView); err != nil {
			return nil, err
		}
	}
	defs, err := sc.customFields(ctx, m)
	if err != nil {
		return nil, err
	}
	out := make([]*model.FieldDefinition, 0, len(defs))
	for _, d := range defs {
		out = append(out, fieldDefinitionOut(d))
	}
	return out, nil
}

func (r *Resolver) createCustomField(ctx context.Context, input model.CreateCustomFieldInput) (*model.FieldDefinition, error) {
	m, err := moduleIn(input.Module)
	if err != nil {
		return nil, err
	}
	typ, err := customFieldTypeIn(input.Type)
	if err != nil {
		return nil, err
	}
	label, err := records.CleanCustomFieldLabel(input.Label)
	if err != nil {
		return nil, err
	}
	picklist, err := records.CleanPicklist(typ, input.PicklistValues)
	if err != nil {
		return nil, err
	}
	var out *records.CustomField
	err = r.changeOrg(ctx, access.SetupManageProfiles, false, func(c *orgChange) error {
		existing, err := db.CustomFieldsOf(ctx, c.tx, c.sc.org.Key, m)
		if err != nil {
			return err
		}
		if err := records.ValidateCustomFieldName(records.MetaOf(m), existing, input.APIName); err != nil {
			return err
		}
		out, err = db.InsertCustomField(ctx, c.tx, c.sc.org.Key, records.CustomField{Module: m, APIName: input.APIName,
			Label: label, Type: typ, Picklist: picklist})
		if errors.Is(err, db.ErrNameTaken) {
			return apperr.NewConflict("%s already has a custom field %q", m, input.APIName)
		}
		if err != nil {
			return err
		}
		return c.record(ctx, "customField.create", "customField", out.ID, nil, customFieldState(out))
	})
	if err != nil {
		return nil, err
	}
	return fieldDefinitionOut(out), nil
}

func (r *Resolver) updateCustomField(ctx context.Context, id string, input model.UpdateCustomFieldInput) (*model.FieldDefinition, error) {
	if input.Label == nil && input.Type == nil && input.PicklistValues == nil {
		return nil, apperr.NewBadInput("nothing to update: give label, type or picklistValues")
	}
	var out *records.CustomField
	err := r.changeOrg(ctx, access.SetupManageProfiles, false, func(c *orgChange) error {
		cur, err := c.customFieldIn(ctx, id)
		if err != nil {
			return err
		}
		next := *cur
		next.Picklist = slices.Clone(cur.Picklist)
		if input.Label != nil {
			if next.Label, err = records.CleanCustomFieldLabel(*input.Label); err != nil {
				return err
			}
		}
		if input.Type != nil {
			if next.Type, err = customFieldTypeIn(*input.Type); err != nil {
				return err
			}
		}
		if next.Type != cur.Type {
			if !records.SafeRetype(cur.Type, next.Type) {
				return apperr.NewBadInput("%s cannot change from %s to %s: stored values would not fit (allowed: NUMBER to DECIMAL; EMAIL, PHONE, URL or PICKLIST to TEXT)",
					cur.APIName, cur.Type, next.Type)
			}
			if rules := c.rulesReading(cur.Module, cur.APIName); len(rules) > 0 {
				return apperr.NewConflict("custom field %s is read by criteria sharing rule %s: change the rule first", cur.APIName, strings.Join(rules, ", "))
			}
			if next.Type != "PICKLIST" && input.PicklistValues == nil {
				next.Picklist = nil
			}
		}
		if input.PicklistValues != nil || next.Type != cur.Type {
			values := next.Picklist
			if input.PicklistValues != nil {
				values = input.PicklistValues
			}
			if next.Picklist, err = records.CleanPicklist(next.Type, values); err != nil {
				return err
			}
		}
		if next.Type == "PICKLIST" && cur.Type == "PICKLIST" {
			var removed []string
			for _, v := range cur.Picklist {
				if !slices.Contains(next.Picklist, v) {
					removed = append(removed, v)
				}
			}
			usage, err := db.CustomValueUsage(ctx, c.tx, c.sc.org.Key, cur, removed)
			if err != nil {
				return err
			}
			for _, v := range removed {
				// No count in the message: it would tell how many records hold
				// the value, visible to the caller or not.
				if usage[v] > 0 {
					return apperr.NewConflict("picklist value %q of %s is still stored on records: change them first", v, cur.APIName)
				}
			}
		}
		if next.Label == cur.Label && next.Type == cur.Type && slices.Equal(next.Picklist, cur.Picklist) {
			out = cur // nothing changes: nothing written
			return nil
		}
		if out, err = db.UpdateCustomField(ctx, c.tx, c.sc.org.Key, next); err != nil {
			return err
		}
		return c.record(ctx, "customField.update", "customField", cur.ID, customFieldState(cur), customFieldState(out))
	})
	if err != nil {
		return nil, err
	}
	return fieldDefinitionOut(out), nil
}

func (r *Resolver) deleteCustomField(ctx context.Context, id string) (string, error) {
	var deleted string
	err := r.changeOrg(ctx, access.SetupManageProfiles, false, func(c *orgChange) error {
		cur, err := c.customFieldIn(ctx, id)
		if err != nil {
			return err
		}
		if rules := c.rulesReading(cur.Module, cur.APIName); len(rules) > 0 {
			return apperr.NewConflict("custom field %s is read by criteria sharing rule %s: change or delete the rule first", cur.APIName, strings.Join(rules, ", "))
		}
		cleared, err := db.DeleteCustomField(ctx, c.tx, c.sc.org.Key, cur)
		if err != nil {
			return err
		}
		deleted = ids.Encode(ids.Field, cur.ID)
		return c.record(ctx, "customField.delete", "customField", cur.ID, customFieldState(cur),
			map[string]any{"deleted": true, "valuesCleared": cleared})
	})
	if err != nil {
		return "", err
	}
	return deleted, nil
}
