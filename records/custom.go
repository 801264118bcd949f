package records

import "warden/access"

// CustomField is an admin-defined field of a module, stored in the record's
// jsonb column under its APIName.
type CustomField struct {
	ID       int64         `db:"id"`
	Module   access.Module `db:"module"`
	APIName  string        `db:"api_name"`
	Label    string        `db:"label"`
	Type     string        `db:"type"` // TEXT NUMBER DECIMAL DATE DATETIME BOOLEAN PICKLIST EMAIL PHONE URL
	Picklist []string      `db:"-"`
}

// Kind maps the custom field's type to the kind of its values.
func (c *CustomField) Kind() Kind {
	switch c.Type {
	case "NUMBER":
		return KindInt
	case "DECIMAL":
		return KindFloat
	case "DATE":
		return KindDate
	case "DATETIME":
		return KindTime
	case "BOOLEAN":
		return KindBool
	}
	return KindString
}
