package records

import (
	"warden/access"
	"warden/ids"
)

// Kind is the type of a field's values, standard or custom.
type Kind int

const (
	KindString Kind = iota
	KindFloat
	KindInt
	KindBool
	KindDate
	KindTime
	KindRef       // a reference to a record of Field.Ref
	KindRecordRef // Task.relatedTo: a reference to a record of any module
	KindMemberRef // owner, createdBy
)

// Field describes one standard field of a module.
type Field struct {
	Name      string // API name: "closingDate"
	Column    string // SQL column: "closing_date"
	Kind      Kind
	Mandatory bool   // the module's mandatory field: never restricted by field-level security
	System    bool   // id, owner, createdBy, createdAt, updatedAt: never client-written nor restricted
	Input     string // input key when it differs from Name ("accountId")
	Ref       access.Module
	OrderEnum string // the XxxOrderField enum value, when orderable
}

// Orderable reports whether lists may be ordered by the field.
func (f *Field) Orderable() bool { return f.OrderEnum != "" }

// InputKey is the field's key in create and update inputs.
func (f *Field) InputKey() string {
	if f.Input != "" {
		return f.Input
	}
	return f.Name
}

// Meta describes a module: its table, id kind and fields.
type Meta struct {
	Module access.Module
	Table  string
	IDKind ids.Kind
	Fields []*Field
	byName map[string]*Field
	byEnum map[string]*Field
	byKey  map[string]*Field
}

// Field returns the standard field with the API name, or nil.
func (m *Meta) Field(name string) *Field { return m.byName[name] }

// FieldByOrderEnum returns the field an XxxOrderField value names, or nil.
func (m *Meta) FieldByOrderEnum(e string) *Field { return m.byEnum[e] }

// FieldByInputKey returns the writable field an input key names, or nil.
func (m *Meta) FieldByInputKey(k string) *Field { return m.byKey[k] }

// Module names. The access engine owns the Module type; these are its values.
const (
	Leads    access.Module = "LEADS"
	Contacts access.Module = "CONTACTS"
	Accounts access.Module = "ACCOUNTS"
	Deals    access.Module = "DEALS"
	Tasks    access.Module = "TASKS"
)

// AllModules lists the record modules in a stable order.
var AllModules = []access.Module{Leads, Contacts, Accounts, Deals, Tasks}

func systemFields() []*Field {
	return []*Field{
		{Name: "id", Column: "id", Kind: KindRef, System: true},
		{Name: "owner", Column: "owner_id", Kind: KindMemberRef, System: true, Input: "ownerId"},
		{Name: "createdBy", Column: "created_by", Kind: KindMemberRef, System: true},
		{Name: "createdAt", Column: "created_at", Kind: KindTime, System: true, OrderEnum: "CREATED_AT"},
		{Name: "updatedAt", Column: "updated_at", Kind: KindTime, System: true, OrderEnum: "UPDATED_AT"},
	}
}

func newMeta(module access.Module, table string, kind ids.Kind, fields ...*Field) *Meta {
	m := &Meta{Module: module, Table: table, IDKind: kind, Fields: append(systemFields(), fields...),
		byName: map[string]*Field{}, byEnum: map[string]*Field{}, byKey: map[string]*Field{}}
	for _, f := range m.Fields {
		if f.Name == "id" {
			// Filters name records by their public id, of this module only.
			f.Kind, f.Ref = KindRef, module
		}
		m.byName[f.Name] = f
		if f.OrderEnum != "" {
			m.byEnum[f.OrderEnum] = f
		}
		if !f.System || f.Name == "owner" {
			m.byKey[f.InputKey()] = f
		}
	}
	return m
}

var metas = map[access.Module]*Meta{
	Leads: newMeta(Leads, "leads", ids.Lead,
		&Field{Name: "firstName", Column: "first_name", OrderEnum: "FIRST_NAME"},
		&Field{Name: "lastName", Column: "last_name", Mandatory: true, OrderEnum: "LAST_NAME"},
		&Field{Name: "company", Column: "company", OrderEnum: "COMPANY"},
		&Field{Name: "email", Column: "email", OrderEnum: "EMAIL"},
		&Field{Name: "phone", Column: "phone", OrderEnum: "PHONE"},
		&Field{Name: "status", Column: "status", OrderEnum: "STATUS"},
		&Field{Name: "source", Column: "source", OrderEnum: "SOURCE"},
		&Field{Name: "annualRevenue", Column: "annual_revenue", Kind: KindFloat, OrderEnum: "ANNUAL_REVENUE"},
	),
	Contacts: newMeta(Contacts, "contacts", ids.Contact,
		&Field{Name: "firstName", Column: "first_name", OrderEnum: "FIRST_NAME"},
		&Field{Name: "lastName", Column: "last_name", Mandatory: true, OrderEnum: "LAST_NAME"},
		&Field{Name: "email", Column: "email", OrderEnum: "EMAIL"},
		&Field{Name: "phone", Column: "phone", OrderEnum: "PHONE"},
		&Field{Name: "account", Column: "account_id", Kind: KindRef, Ref: Accounts, Input: "accountId"},
		&Field{Name: "mailingCity", Column: "mailing_city", OrderEnum: "MAILING_CITY"},
		&Field{Name: "bankAccountNumber", Column: "bank_account_number", OrderEnum: "BANK_ACCOUNT_NUMBER"},
	),
	Accounts: newMeta(Accounts, "accounts", ids.Account,
		&Field{Name: "name", Column: "name", Mandatory: true, OrderEnum: "NAME"},
		&Field{Name: "industry", Column: "industry", OrderEnum: "INDUSTRY"},
		&Field{Name: "website", Column: "website", OrderEnum: "WEBSITE"},
		&Field{Name: "phone", Column: "phone", OrderEnum: "PHONE"},
		&Field{Name: "annualRevenue", Column: "annual_revenue", Kind: KindFloat, OrderEnum: "ANNUAL_REVENUE"},
	),
	Deals: newMeta(Deals, "deals", ids.Deal,
		&Field{Name: "name", Column: "name", Mandatory: true, OrderEnum: "NAME"},
		&Field{Name: "amount", Column: "amount", Kind: KindFloat, OrderEnum: "AMOUNT"},
		&Field{Name: "stage", Column: "stage", OrderEnum: "STAGE"},
		&Field{Name: "closingDate", Column: "closing_date", Kind: KindDate, OrderEnum: "CLOSING_DATE"},
		&Field{Name: "probability", Column: "probability", Kind: KindInt, OrderEnum: "PROBABILITY"},
		&Field{Name: "account", Column: "account_id", Kind: KindRef, Ref: Accounts, Input: "accountId"},
		&Field{Name: "contact", Column: "contact_id", Kind: KindRef, Ref: Contacts, Input: "contactId"},
	),
	Tasks: newMeta(Tasks, "tasks", ids.Task,
		&Field{Name: "subject", Column: "subject", Mandatory: true, OrderEnum: "SUBJECT"},
		&Field{Name: "dueAt", Column: "due_at", Kind: KindTime, OrderEnum: "DUE_AT"},
		&Field{Name: "status", Column: "status", OrderEnum: "STATUS"},
		&Field{Name: "priority", Column: "priority", OrderEnum: "PRIORITY"},
		&Field{Name: "relatedTo", Column: "related_id", Kind: KindRecordRef, Input: "relatedToId"},
	),
}

// MetaOf returns the module's metadata; nil for an unknown module.
func MetaOf(m access.Module) *Meta { return metas[m] }

// ModuleOfIDKind maps an id kind to its module ("deal" -> DEALS).
func ModuleOfIDKind(k ids.Kind) (access.Module, bool) {
	for _, m := range metas {
		if m.IDKind == k {
			return m.Module, true
		}
	}
	return "", false
}

// ParentOf returns the parent record a record's related shares flow from:
// the account of a contact or deal, the record a task is about.
func ParentOf(r Record) (access.Module, int64, bool) {
	switch v := r.(type) {
	case *Contact:
		if v.AccountID != nil {
			return Accounts, *v.AccountID, true
		}
	case *Deal:
		if v.AccountID != nil {
			return Accounts, *v.AccountID, true
		}
	case *Task:
		if v.RelatedID != nil && v.RelatedModule != nil {
			return access.Module(*v.RelatedModule), *v.RelatedID, true
		}
	}
	return "", 0, false
}

// ModuleOf names the module of a record.
func ModuleOf(r Record) access.Module {
	switch r.(type) {
	case *Lead:
		return Leads
	case *Contact:
		return Contacts
	case *Account:
		return Accounts
	case *Deal:
		return Deals
	case *Task:
		return Tasks
	}
	return ""
}

// PublicID is the record's public id.
func PublicID(r Record) string {
	return ids.Encode(MetaOf(ModuleOf(r)).IDKind, r.Base().Key)
}
