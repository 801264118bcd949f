package records

import (
	"strings"
	"unicode/utf8"

	"warden/access"
)

// Custom field definitions: what an admin may define, rename and retype.
// Values are checked on every write by parseCustom (input.go), by type.

// CustomFieldTypes are the types a custom field may have, as the API spells them.
var CustomFieldTypes = []string{"TEXT", "NUMBER", "DECIMAL", "DATE", "DATETIME", "BOOLEAN", "PICKLIST", "EMAIL", "PHONE", "URL"}

// Limits of custom field definitions.
const (
	MaxCustomFieldsPerModule = 100
	MaxCustomFieldLabel      = 100
	MaxPicklistValues        = 200
	MaxPicklistValueLen      = 100
)

// reservedAPINames are names a custom field cannot take besides the module's
// standard fields: the keys of every record type and input that are not
// fields, and the input keys of references.
var reservedAPINames = map[string]bool{
	"customFields": true, "access": true, "ownerId": true, "accountId": true, "contactId": true,
	"relatedToId": true, "and": true, "or": true, "custom": true,
}

// ValidCustomFieldType reports whether t is one of CustomFieldTypes.
func ValidCustomFieldType(t string) bool {
	for _, x := range CustomFieldTypes {
		if x == t {
			return true
		}
	}
	return false
}

// ValidateCustomFieldName checks a new custom field's apiName against the
// module: the format, no standard field's name or input key, no name
// reserved by the API, and unique among the module's custom fields
// (CONFLICT). Errors are *InputError, or *access.RuleError for CONFLICT.
func ValidateCustomFieldName(meta *Meta, existing []*CustomField, apiName string) error {
	if !ValidAPIName(apiName) {
		return NewInputError("apiName %q is not valid: a lower-case letter, then letters, digits or _, at most 63 characters", apiName)
	}
	if meta.Field(apiName) != nil || meta.FieldByInputKey(apiName) != nil || reservedAPINames[apiName] {
		return NewInputError("apiName %q is taken by a standard field of %s", apiName, meta.Module)
	}
	for _, c := range existing {
		if c.APIName == apiName {
			return access.NewConflictErr("%s already has a custom field %q", meta.Module, apiName)
		}
	}
	if len(existing) >= MaxCustomFieldsPerModule {
		return access.NewLimitErr("%s already has %d custom fields; at most %d are allowed", meta.Module, len(existing), MaxCustomFieldsPerModule)
	}
	return nil
}

// CleanCustomFieldLabel trims a label and checks its length.
func CleanCustomFieldLabel(s string) (string, error) {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n < 1 || n > MaxCustomFieldLabel {
		return "", NewInputError("a custom field label is 1 to %d characters", MaxCustomFieldLabel)
	}
	return s, nil
}

// CleanPicklist checks a field's picklist for its type: PICKLIST needs at
// least one value, each non-empty, at most MaxPicklistValueLen characters,
// none twice; any other type takes none.
func CleanPicklist(fieldType string, values []string) ([]string, error) {
	if fieldType != "PICKLIST" {
		if len(values) > 0 {
			return nil, NewInputError("picklistValues are for PICKLIST fields only")
		}
		return []string{}, nil
	}
	if len(values) == 0 {
		return nil, NewInputError("a PICKLIST field needs at least one picklist value")
	}
	if len(values) > MaxPicklistValues {
		return nil, NewInputError("a PICKLIST field has at most %d values", MaxPicklistValues)
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(values))
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" || utf8.RuneCountInString(v) > MaxPicklistValueLen || strings.ContainsRune(v, 0) {
			return nil, NewInputError("picklist values are 1 to %d characters", MaxPicklistValueLen)
		}
		if seen[v] {
			return nil, NewInputError("picklist value %q is given twice", v)
		}
		seen[v] = true
		out = append(out, v)
	}
	return out, nil
}

// SafeRetype reports whether a custom field of type from may become type to
// without any stored value becoming invalid or changing meaning: every
// integer is a decimal, and every valid email, phone, URL or picklist value
// is text. Anything else would need the values rewritten, and is refused.
func SafeRetype(from, to string) bool {
	if from == to {
		return true
	}
	switch to {
	case "DECIMAL":
		return from == "NUMBER"
	case "TEXT":
		return from == "EMAIL" || from == "PHONE" || from == "URL" || from == "PICKLIST"
	}
	return false
}
