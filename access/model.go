package access

import (
	"fmt"
	"strings"
)

// Module is a record module (one table of records).
type Module string

// The modules of the CRM.
const (
	Leads    Module = "LEADS"
	Contacts Module = "CONTACTS"
	Accounts Module = "ACCOUNTS"
	Deals    Module = "DEALS"
	Tasks    Module = "TASKS"
)

// Modules lists every module in a fixed order.
var Modules = []Module{Leads, Contacts, Accounts, Deals, Tasks}

const numModules = 5

// moduleIndex maps a module to a small dense index, -1 when unknown.
func moduleIndex(m Module) int {
	switch m {
	case Leads:
		return 0
	case Contacts:
		return 1
	case Accounts:
		return 2
	case Deals:
		return 3
	case Tasks:
		return 4
	}
	return -1
}

// Valid reports whether m is one of Modules.
func (m Module) Valid() bool { return moduleIndex(m) >= 0 }

// ParseModule parses a module name as spelled in the API.
func ParseModule(s string) (Module, error) {
	m := Module(s)
	if !m.Valid() {
		return "", fmt.Errorf("access: unknown module %q", s)
	}
	return m, nil
}

// Level is an access level on a record. Levels are ordered: a higher level
// includes everything a lower one allows.
type Level uint8

// Access levels, lowest first.
const (
	LevelNone Level = iota
	LevelReadOnly
	LevelReadWrite
	LevelReadWriteDelete
	LevelFullAccess
)

var levelNames = [...]string{"NONE", "READ_ONLY", "READ_WRITE", "READ_WRITE_DELETE", "FULL_ACCESS"}

func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", uint8(l))
}

// Valid reports whether l is one of the five levels.
func (l Level) Valid() bool { return l <= LevelFullAccess }

// ParseLevel parses NONE, READ_ONLY, READ_WRITE, READ_WRITE_DELETE or FULL_ACCESS.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if n == s {
			return Level(i), nil
		}
	}
	return LevelNone, fmt.Errorf("access: unknown access level %q", s)
}

func (l Level) MarshalText() ([]byte, error) {
	if !l.Valid() {
		return nil, fmt.Errorf("access: invalid level %d", uint8(l))
	}
	return []byte(l.String()), nil
}

func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// ValidRuleLevel reports whether l may be the level of a sharing rule
// (RuleAccess: READ_ONLY, READ_WRITE, READ_WRITE_DELETE).
func ValidRuleLevel(l Level) bool {
	return l == LevelReadOnly || l == LevelReadWrite || l == LevelReadWriteDelete
}

// ValidShareLevel reports whether l may be the level of a record share
// (ShareAccess: READ_ONLY, READ_WRITE, FULL_ACCESS).
func ValidShareLevel(l Level) bool {
	return l == LevelReadOnly || l == LevelReadWrite || l == LevelFullAccess
}

// DefaultAccess is a module's org-wide default, as spelled in the API.
type DefaultAccess string

// Org-wide defaults.
const (
	Private               DefaultAccess = "PRIVATE"
	PublicReadOnly        DefaultAccess = "PUBLIC_READ_ONLY"
	PublicReadWrite       DefaultAccess = "PUBLIC_READ_WRITE"
	PublicReadWriteDelete DefaultAccess = "PUBLIC_READ_WRITE_DELETE"
)

// Level is the level the default grants every member (PRIVATE grants none).
func (d DefaultAccess) Level() (Level, error) {
	switch d {
	case Private:
		return LevelNone, nil
	case PublicReadOnly:
		return LevelReadOnly, nil
	case PublicReadWrite:
		return LevelReadWrite, nil
	case PublicReadWriteDelete:
		return LevelReadWriteDelete, nil
	}
	return LevelNone, fmt.Errorf("access: unknown default access %q", string(d))
}

// DefaultAccessOf is the inverse of DefaultAccess.Level; FULL_ACCESS has no
// default and yields an error.
func DefaultAccessOf(l Level) (DefaultAccess, error) {
	switch l {
	case LevelNone:
		return Private, nil
	case LevelReadOnly:
		return PublicReadOnly, nil
	case LevelReadWrite:
		return PublicReadWrite, nil
	case LevelReadWriteDelete:
		return PublicReadWriteDelete, nil
	}
	return "", fmt.Errorf("access: no org default grants %s", l)
}

// PrincipalType is the kind of a Principal.
type PrincipalType uint8

// Principal types. The zero value is invalid.
const (
	PrincipalUser PrincipalType = iota + 1
	PrincipalRole
	PrincipalRoleAndSubordinates
	PrincipalGroup
)

var principalTypeNames = [...]string{"", "USER", "ROLE", "ROLE_AND_SUBORDINATES", "GROUP"}

func (t PrincipalType) String() string {
	if t >= PrincipalUser && t <= PrincipalGroup {
		return principalTypeNames[t]
	}
	return fmt.Sprintf("PrincipalType(%d)", uint8(t))
}

// Valid reports whether t is one of the four principal types.
func (t PrincipalType) Valid() bool { return t >= PrincipalUser && t <= PrincipalGroup }

// ParsePrincipalType parses USER, ROLE, ROLE_AND_SUBORDINATES or GROUP.
func ParsePrincipalType(s string) (PrincipalType, error) {
	for i := 1; i < len(principalTypeNames); i++ {
		if principalTypeNames[i] == s {
			return PrincipalType(i), nil
		}
	}
	return 0, fmt.Errorf("access: unknown principal type %q", s)
}

func (t PrincipalType) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("access: invalid principal type %d", uint8(t))
	}
	return []byte(t.String()), nil
}

func (t *PrincipalType) UnmarshalText(b []byte) error {
	v, err := ParsePrincipalType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Principal names a set of members. It is comparable and usable as a map key.
// ID is a member id (USER), a role id (ROLE, ROLE_AND_SUBORDINATES) or a
// group id (GROUP).
type Principal struct {
	Type PrincipalType
	ID   int64
}

func (p Principal) String() string { return fmt.Sprintf("%s %d", p.Type, p.ID) }

// User, RolePrincipal, RoleAndSubordinates and GroupPrincipal build principals.
func User(id int64) Principal                { return Principal{PrincipalUser, id} }
func RolePrincipal(id int64) Principal       { return Principal{PrincipalRole, id} }
func RoleAndSubordinates(id int64) Principal { return Principal{PrincipalRoleAndSubordinates, id} }
func GroupPrincipal(id int64) Principal      { return Principal{PrincipalGroup, id} }

// HierarchyMode is how an org derives superiors.
type HierarchyMode uint8

// Hierarchy modes. ROLE is the default (zero value).
const (
	HierarchyRole HierarchyMode = iota
	HierarchyReporting
)

func (h HierarchyMode) String() string {
	switch h {
	case HierarchyRole:
		return "ROLE"
	case HierarchyReporting:
		return "REPORTING"
	}
	return fmt.Sprintf("HierarchyMode(%d)", uint8(h))
}

// ParseHierarchyMode parses ROLE or REPORTING.
func ParseHierarchyMode(s string) (HierarchyMode, error) {
	switch s {
	case "ROLE":
		return HierarchyRole, nil
	case "REPORTING":
		return HierarchyReporting, nil
	}
	return 0, fmt.Errorf("access: unknown hierarchy mode %q", s)
}

func (h HierarchyMode) MarshalText() ([]byte, error) { return []byte(h.String()), nil }
func (h *HierarchyMode) UnmarshalText(b []byte) error {
	v, err := ParseHierarchyMode(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// Permission is one module permission of a profile.
type Permission uint16

// Module permissions.
const (
	PermView Permission = 1 << iota
	PermCreate
	PermEdit
	PermDelete
	PermShare
	PermChangeOwner
	PermExport
	PermImport
	PermMassUpdate
	PermMassDelete
)

var permissionNames = []struct {
	p    Permission
	name string
}{
	{PermView, "view"}, {PermCreate, "create"}, {PermEdit, "edit"}, {PermDelete, "delete"},
	{PermShare, "share"}, {PermChangeOwner, "changeOwner"}, {PermExport, "export"},
	{PermImport, "import"}, {PermMassUpdate, "massUpdate"}, {PermMassDelete, "massDelete"},
}

func (p Permission) String() string {
	for _, n := range permissionNames {
		if n.p == p {
			return n.name
		}
	}
	return fmt.Sprintf("Permission(%#x)", uint16(p))
}

// ParsePermission parses a permission name as spelled in the API ("view", "massUpdate", ...).
func ParsePermission(s string) (Permission, error) {
	for _, n := range permissionNames {
		if n.name == s {
			return n.p, nil
		}
	}
	return 0, fmt.Errorf("access: unknown permission %q", s)
}

// PermissionSet is a set of module permissions.
type PermissionSet uint16

// AllPermissions holds every module permission.
const AllPermissions = PermissionSet(PermView | PermCreate | PermEdit | PermDelete | PermShare |
	PermChangeOwner | PermExport | PermImport | PermMassUpdate | PermMassDelete)

// StandardPermissions is what the Standard profile holds on every module.
const StandardPermissions = PermissionSet(PermView | PermCreate | PermEdit | PermShare)

// Has reports whether every permission in p is in s.
func (s PermissionSet) Has(p Permission) bool {
	return p != 0 && PermissionSet(p)&s == PermissionSet(p)
}

// With returns s plus ps.
func (s PermissionSet) With(ps ...Permission) PermissionSet {
	for _, p := range ps {
		s |= PermissionSet(p)
	}
	return s
}

// Without returns s minus ps.
func (s PermissionSet) Without(ps ...Permission) PermissionSet {
	for _, p := range ps {
		s &^= PermissionSet(p)
	}
	return s
}

// Names lists the permission names in s in the canonical order.
func (s PermissionSet) Names() []string {
	var out []string
	for _, n := range permissionNames {
		if s.Has(n.p) {
			out = append(out, n.name)
		}
	}
	return out
}

func (s PermissionSet) String() string { return "{" + strings.Join(s.Names(), " ") + "}" }

// ParsePermissionSet parses a list of permission names.
func ParsePermissionSet(names []string) (PermissionSet, error) {
	var s PermissionSet
	for _, n := range names {
		p, err := ParsePermission(n)
		if err != nil {
			return 0, err
		}
		s |= PermissionSet(p)
	}
	return s, nil
}

// permissionPrereqs lists each permission's prerequisite (access-model.md, Profiles).
var permissionPrereqs = []struct{ p, needs Permission }{
	{PermEdit, PermView}, {PermDelete, PermView}, {PermShare, PermView},
	{PermChangeOwner, PermView}, {PermExport, PermView}, {PermImport, PermCreate},
	{PermMassUpdate, PermEdit}, {PermMassDelete, PermDelete},
}

// Validate checks the prerequisites between permissions: edit, delete,
// share, changeOwner and export need view; import needs create; massUpdate
// needs edit; massDelete needs delete.
func (s PermissionSet) Validate() error {
	if s&^AllPermissions != 0 {
		return NewInvalidErr("unknown permission bits %#x", uint16(s&^AllPermissions))
	}
	for _, pr := range permissionPrereqs {
		if s.Has(pr.p) && !s.Has(pr.needs) {
			return NewInvalidErr("permission %s needs %s", pr.p, pr.needs)
		}
	}
	return nil
}

// SetupPermission is an org-level setup permission of a profile.
type SetupPermission uint16

// Setup permissions.
const (
	SetupManageUsers SetupPermission = 1 << iota
	SetupManageRoles
	SetupManageProfiles
	SetupManageGroups
	SetupManageSharing
	SetupManageShifts
	SetupViewAuditLog
)

var setupNames = []struct {
	p    SetupPermission
	name string
}{
	{SetupManageUsers, "manageUsers"}, {SetupManageRoles, "manageRoles"},
	{SetupManageProfiles, "manageProfiles"}, {SetupManageGroups, "manageGroups"},
	{SetupManageSharing, "manageSharing"}, {SetupManageShifts, "manageShifts"},
	{SetupViewAuditLog, "viewAuditLog"},
}

func (p SetupPermission) String() string {
	for _, n := range setupNames {
		if n.p == p {
			return n.name
		}
	}
	return fmt.Sprintf("SetupPermission(%#x)", uint16(p))
}

// ParseSetupPermission parses a setup permission name ("manageUsers", ...).
func ParseSetupPermission(s string) (SetupPermission, error) {
	for _, n := range setupNames {
		if n.name == s {
			return n.p, nil
		}
	}
	return 0, fmt.Errorf("access: unknown setup permission %q", s)
}

// SetupPermissionSet is a set of setup permissions.
type SetupPermissionSet uint16

// AllSetupPermissions holds every setup permission.
const AllSetupPermissions = SetupPermissionSet(SetupManageUsers | SetupManageRoles | SetupManageProfiles |
	SetupManageGroups | SetupManageSharing | SetupManageShifts | SetupViewAuditLog)

// Has reports whether p is in s.
func (s SetupPermissionSet) Has(p SetupPermission) bool {
	return p != 0 && SetupPermissionSet(p)&s == SetupPermissionSet(p)
}

// With returns s plus ps.
func (s SetupPermissionSet) With(ps ...SetupPermission) SetupPermissionSet {
	for _, p := range ps {
		s |= SetupPermissionSet(p)
	}
	return s
}

// Names lists the setup permission names in s.
func (s SetupPermissionSet) Names() []string {
	var out []string
	for _, n := range setupNames {
		if s.Has(n.p) {
			out = append(out, n.name)
		}
	}
	return out
}

// FieldAccess is a profile's access to one field of a module.
type FieldAccess uint8

// Field access values. The zero value is READ_WRITE, which is also what a
// field not mentioned by a profile gets.
const (
	FieldReadWrite FieldAccess = iota
	FieldReadOnly
	FieldHidden
)

func (f FieldAccess) String() string {
	switch f {
	case FieldReadWrite:
		return "READ_WRITE"
	case FieldReadOnly:
		return "READ_ONLY"
	case FieldHidden:
		return "HIDDEN"
	}
	return fmt.Sprintf("FieldAccess(%d)", uint8(f))
}

// ParseFieldAccess parses READ_WRITE, READ_ONLY or HIDDEN.
func ParseFieldAccess(s string) (FieldAccess, error) {
	switch s {
	case "READ_WRITE":
		return FieldReadWrite, nil
	case "READ_ONLY":
		return FieldReadOnly, nil
	case "HIDDEN":
		return FieldHidden, nil
	}
	return 0, fmt.Errorf("access: unknown field access %q", s)
}

func (f FieldAccess) MarshalText() ([]byte, error) { return []byte(f.String()), nil }
func (f *FieldAccess) UnmarshalText(b []byte) error {
	v, err := ParseFieldAccess(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// GrantSource is where a grant of access comes from.
type GrantSource uint8

// Grant sources, as in the grant table of access-model.md.
const (
	SourceAdministrator GrantSource = iota + 1
	SourceOwner
	SourceHierarchy
	SourcePeer
	SourceOrgDefault
	SourceSharingRule
	SourceRecordShare
	SourceRelatedShare
)

var grantSourceNames = [...]string{"", "ADMINISTRATOR", "OWNER", "HIERARCHY", "PEER", "ORG_DEFAULT",
	"SHARING_RULE", "RECORD_SHARE", "RELATED_SHARE"}

func (g GrantSource) String() string {
	if g >= SourceAdministrator && g <= SourceRelatedShare {
		return grantSourceNames[g]
	}
	return fmt.Sprintf("GrantSource(%d)", uint8(g))
}

func (g GrantSource) MarshalText() ([]byte, error) { return []byte(g.String()), nil }

// Role is a node of the org's role tree.
type Role struct {
	ID             int64
	ParentID       int64 // 0: a top role
	Name           string
	ShareWithPeers bool
}

// Member is a membership of a user in an org.
type Member struct {
	ID          int64
	RoleID      int64
	ProfileID   int64
	ReportsToID int64 // 0: no reporting manager
	Active      bool
	Name        string // optional, used in explanations
}

// Profile holds module permissions, setup permissions and field access.
type Profile struct {
	ID            int64
	Name          string
	Administrator bool // the Administrator profile: everything, on every module and field
	Standard      bool // the Standard profile: editable, never deleted
	Modules       map[Module]PermissionSet
	Setup         SetupPermissionSet
	Fields        map[Module]map[string]FieldAccess // a field not named is READ_WRITE
}

// Group is a named set of principals; groups may contain groups.
type Group struct {
	ID      int64
	Name    string
	Members []Principal
}

// LogicalOp joins the conditions of a criteria.
type LogicalOp string

// Logical operators.
const (
	And LogicalOp = "AND"
	Or  LogicalOp = "OR"
)

// ConditionOp is the operator of one condition.
type ConditionOp string

// Condition operators.
const (
	OpEq       ConditionOp = "EQ"
	OpNeq      ConditionOp = "NEQ"
	OpIn       ConditionOp = "IN"
	OpLt       ConditionOp = "LT"
	OpLte      ConditionOp = "LTE"
	OpGt       ConditionOp = "GT"
	OpGte      ConditionOp = "GTE"
	OpContains ConditionOp = "CONTAINS"
	OpIsEmpty  ConditionOp = "IS_EMPTY"
)

// Criteria is a list of conditions on a record's fields joined by one AND or OR.
type Criteria struct {
	Op         LogicalOp
	Conditions []Condition
}

// Condition is one test of a field. Value is JSON-decoded: string, float64,
// bool, []any or nil (other Go numbers, json.Number and time.Time work too).
type Condition struct {
	Field string
	Op    ConditionOp
	Value any
}

// SharingRule opens the records of a module to a target principal: the
// records owned by members of Source (owner based) or the records matching
// Criteria (criteria based). Exactly one of Source and Criteria is set.
type SharingRule struct {
	ID               int64
	Module           Module
	Name             string
	Source           *Principal
	Criteria         *Criteria
	Target           Principal
	Level            Level // READ_ONLY, READ_WRITE or READ_WRITE_DELETE
	SuperiorsAllowed bool
}

// CriteriaBased reports whether the rule selects records by criteria.
func (r *SharingRule) CriteriaBased() bool { return r.Criteria != nil }

// OrgData is everything the snapshot of one org is built from.
type OrgData struct {
	OrgID         int64
	Version       int64 // the org's security version
	HierarchyMode HierarchyMode
	Roles         []Role
	Members       []Member
	Profiles      []Profile
	Groups        []Group
	Defaults      map[Module]Level // a module not named is PRIVATE
	Rules         []SharingRule
}

// RecordRef names one record.
type RecordRef struct {
	Module Module
	ID     int64
}

func (r RecordRef) String() string { return fmt.Sprintf("%s/%d", r.Module, r.ID) }

// Share is a direct share of one record with a principal.
type Share struct {
	Module         Module
	RecordID       int64
	Principal      Principal
	Level          Level // READ_ONLY, READ_WRITE or FULL_ACCESS
	IncludeRelated bool  // the share also reaches the record's direct children
}

// SystemFields are the fields every module has; always READ_WRITE for field
// security (they are never written by clients).
var SystemFields = []string{"id", "owner", "createdBy", "createdAt", "updatedAt"}

// MandatoryField is the module's mandatory field, always READ_WRITE.
func MandatoryField(m Module) string {
	switch m {
	case Leads, Contacts:
		return "lastName"
	case Accounts, Deals:
		return "name"
	case Tasks:
		return "subject"
	}
	return ""
}

// AlwaysReadWrite reports whether field security can never restrict the
// field: a system field or the module's mandatory field.
func AlwaysReadWrite(m Module, field string) bool {
	if field == MandatoryField(m) {
		return true
	}
	for _, f := range SystemFields {
		if f == field {
			return true
		}
	}
	return false
}
