package records

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"

	"warden/ids"
)

// Record is any record of the five modules (the GraphQL Record interface).
type Record interface {
	Base() *Header
}

// Header holds what every record has: its key, org, owner and timestamps,
// and its custom field values.
type Header struct {
	Key         int64     `db:"id"`
	OrgID       int64     `db:"org_id"`
	OwnerID     int64     `db:"owner_id"`
	CreatedByID *int64    `db:"created_by"`
	CreatedAt   time.Time `db:"created_at"`
	UpdatedAt   time.Time `db:"updated_at"`
	Custom      JSONMap   `db:"custom"`
}

// Base returns the record's header.
func (h *Header) Base() *Header { return h }

// JSONMap is a jsonb object column.
type JSONMap map[string]any

// Scan reads jsonb.
func (m *JSONMap) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*m = JSONMap{}
		return nil
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("cannot scan %T into JSONMap", src)
	}
	out := JSONMap{}
	if err := json.Unmarshal(b, &out); err != nil {
		return err
	}
	*m = out
	return nil
}

// Value writes jsonb.
func (m JSONMap) Value() (driver.Value, error) {
	if m == nil {
		return "{}", nil
	}
	// As text: the connection sends []byte parameters in binary, which
	// jsonb does not take (db.ConnString).
	b, err := json.Marshal(map[string]any(m))
	return string(b), err
}

// Lead is a record of the LEADS module.
type Lead struct {
	Header
	FirstName     *string  `db:"first_name"`
	LastName      string   `db:"last_name"`
	Company       *string  `db:"company"`
	Email         *string  `db:"email"`
	Phone         *string  `db:"phone"`
	Status        *string  `db:"status"`
	Source        *string  `db:"source"`
	AnnualRevenue *float64 `db:"annual_revenue"`
}

// ID is the record's public id.
func (r *Lead) ID() string { return ids.Encode(ids.Lead, r.Key) }

// Contact is a record of the CONTACTS module.
type Contact struct {
	Header
	FirstName         *string `db:"first_name"`
	LastName          string  `db:"last_name"`
	Email             *string `db:"email"`
	Phone             *string `db:"phone"`
	AccountID         *int64  `db:"account_id"`
	MailingCity       *string `db:"mailing_city"`
	BankAccountNumber *string `db:"bank_account_number"`
}

// ID is the record's public id.
func (r *Contact) ID() string { return ids.Encode(ids.Contact, r.Key) }

// Account is a record of the ACCOUNTS module.
type Account struct {
	Header
	Name          string   `db:"name"`
	Industry      *string  `db:"industry"`
	Website       *string  `db:"website"`
	Phone         *string  `db:"phone"`
	AnnualRevenue *float64 `db:"annual_revenue"`
}

// ID is the record's public id.
func (r *Account) ID() string { return ids.Encode(ids.Account, r.Key) }

// Deal is a record of the DEALS module.
type Deal struct {
	Header
	Name        string   `db:"name"`
	Amount      *float64 `db:"amount"`
	Stage       *string  `db:"stage"`
	ClosingDate *Date    `db:"closing_date"`
	Probability *int     `db:"probability"`
	AccountID   *int64   `db:"account_id"`
	ContactID   *int64   `db:"contact_id"`
}

// ID is the record's public id.
func (r *Deal) ID() string { return ids.Encode(ids.Deal, r.Key) }

// Task is a record of the TASKS module.
type Task struct {
	Header
	Subject       string     `db:"subject"`
	DueAt         *time.Time `db:"due_at"`
	Status        *string    `db:"status"`
	Priority      *string    `db:"priority"`
	RelatedModule *string    `db:"related_module"`
	RelatedID     *int64     `db:"related_id"`
}

// ID is the record's public id.
func (r *Task) ID() string { return ids.Encode(ids.Task, r.Key) }
