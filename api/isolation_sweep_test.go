package api_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"warden/api/apitest"
	"warden/graph"
	"warden/ids"
	"warden/resolvers"
)

// The tenant isolation sweep: every query and mutation of the executable
// schema, including ones added after this test was written, is called by an
// Administrator of org A with ids, cursors and principals of org B. Each call
// must return nothing of B, change nothing of B, and answer exactly as the
// same call with ids that exist nowhere (same HTTP status, codes, messages
// and data once the ids are swapped): an id of another org behaves like an
// id that does not exist (access-model.md, Tenancy).
//
// Arguments are built from their types: an ID takes B's id of the kind its
// name says (roleId: a role; a record's id: a record of the module argument;
// a principal's id: a member, role or group by the principal type), inputs
// get their required fields and every optional field that can carry an id,
// cursors come from running the same list in B as B's Administrator. An
// operation whose arguments cannot be built fails the test, by name.

// sweepNoTenantData lists the operations that take no tenant data, or act
// on the caller's own identity only; they are not swept.
var sweepNoTenantData = map[string]string{
	"Query.viewer":              "the caller's own identity; no arguments",
	"Mutation.signup":           "creates a new identity; no org",
	"Mutation.login":            "email and password of the caller",
	"Mutation.loginWithIdToken": "an ID token of the identity provider",
	"Mutation.refreshToken":     "the caller's own session",
	"Mutation.logout":           "the caller's own session (would end the sweep's)",
	"Mutation.logoutEverywhere": "the caller's own sessions (would end the sweep's)",
	"Mutation.createOrg":        "creates a new org; names no existing one",
	// The token is a 256-bit bearer secret, not a guessable id: holding it is
	// what entitles one to learn that it is for another email.
	"Mutation.acceptInvitation": "a bearer secret, tested in TestInvitationFlow",
}

// sweepSlot is a place in the arguments that takes B's data.
type sweepSlot struct {
	kind             string // an ids.Kind, or "cursor"
	foreign, missing string // B's value, and one that exists nowhere
	own              string // A's own value ("": none, sent as null)
	optional         bool   // the place may be null
	probe            bool   // this call sends foreign/missing here, else own
	alone            bool   // this call probes another slot only: optional places stay null
}

// sweepValue is an argument value: a GraphQL literal, or a slot.
type sweepValue struct {
	literal string
	slot    *sweepSlot
	list    []sweepValue
	object  [][2]any // name, sweepValue
	isList  bool
	isObj   bool
}

// Render modes: B's ids; ids that exist nowhere; B's ids with no cursor
// (B's own call, which yields B's cursor).
const (
	sweepForeign = iota
	sweepMissing
	sweepBOwn
)

func (v sweepValue) render(mode int) string {
	switch {
	case v.slot != nil:
		sl := v.slot
		switch {
		case mode == sweepBOwn && sl.kind == "cursor":
			return "null"
		case mode == sweepBOwn:
			return strconv.Quote(sl.foreign)
		case !sl.probe && (sl.own == "" || (sl.alone && sl.optional)):
			return "null"
		case !sl.probe:
			return strconv.Quote(sl.own)
		case mode == sweepMissing:
			return strconv.Quote(sl.missing)
		}
		return strconv.Quote(sl.foreign)
	case v.isList:
		var parts []string
		for _, e := range v.list {
			parts = append(parts, e.render(mode))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case v.isObj:
		var parts []string
		for _, f := range v.object {
			parts = append(parts, f[0].(string)+": "+f[1].(sweepValue).render(mode))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return v.literal
}

// sweepVariant picks the module and principal type the arguments use.
type sweepVariant struct {
	module    string // LEADS ...; "" when the operation has no module
	principal string // USER, ROLE, GROUP
}

var sweepModuleKind = map[string]string{"LEADS": "lead", "CONTACTS": "contact", "ACCOUNTS": "account", "DEALS": "deal", "TASKS": "task"}
var sweepPrincipalKind = map[string]string{"USER": "member", "ROLE": "role", "ROLE_AND_SUBORDINATES": "role", "GROUP": "group"}

// sweepKindAliases name the kind of an id by the word before "Id".
var sweepKindAliases = map[string]string{
	"owner": "member", "newowner": "member", "reportsto": "member", "actor": "member", "member": "member", "target": "member",
	"parent": "role", "transfertorole": "role", "role": "role",
	"clonefrom": "profile", "transfertoprofile": "profile", "profile": "profile",
	"replacementshift": "shift", "shift": "shift", "relatedto": "deal",
	"account": "account", "contact": "contact", "deal": "deal", "lead": "lead", "task": "task",
	"group": "group", "org": "org", "invitation": "invitation", "holiday": "holiday",
	"sharingrule": "rule", "rule": "rule", "customfield": "field", "field": "field",
}

// sweepOpVerbs are stripped from an operation's name to find the kind its
// own id argument names (updateSharingRule(id) -> a rule).
var sweepOpVerbs = []string{"update", "delete", "deactivate", "reactivate", "revoke", "move", "remove", "archive", "restore", "get"}

type sweepBuilder struct {
	inputs  []string // input types being built, outermost first
	schema  *ast.Schema
	bIDs    map[string]string // kind -> an id of B
	aIDs    map[string]string // kind -> an id of A
	variant sweepVariant
	slots   []*sweepSlot
	errs    []string
	op      string
}

func (b *sweepBuilder) fail(format string, args ...any) sweepValue {
	b.errs = append(b.errs, fmt.Sprintf(format, args...))
	return sweepValue{literal: "null"}
}

func (b *sweepBuilder) slot(kind string, optional bool) sweepValue {
	s := &sweepSlot{kind: kind, optional: optional}
	if kind == "cursor" {
		s.missing = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // well-formed, signed by nobody
	} else {
		id, ok := b.bIDs[kind]
		if !ok {
			return b.fail("no id of kind %q in org B", kind)
		}
		s.foreign, s.missing, s.own = id, ids.Encode(ids.Kind(kind), 987654321), b.aIDs[kind]
	}
	b.slots = append(b.slots, s)
	return sweepValue{slot: s}
}

// idKind is the kind of id a name asks for; path is the names from the
// operation down to the value.
func (b *sweepBuilder) idKind(path []string) (string, bool) {
	for i := len(path) - 1; i >= 0; i-- {
		name := path[i]
		switch name {
		case "eq", "neq", "in":
			continue
		case "id":
			switch {
			case i == 1: // the operation's own id: the kind of the operation
				return b.opKind(path[0])
			case i >= 1 && path[i-1] == "#principal":
				return sweepPrincipalKind[b.variant.principal], true
			case b.variant.module != "":
				return sweepModuleKind[b.variant.module], true
			}
			// A list's filter on id: the kind the list is of (deals -> deal).
			return b.opKind(strings.TrimSuffix(path[0], "s"))
		case "ids", "recordId", "recordIds":
			if b.variant.module == "" {
				return "", false
			}
			return sweepModuleKind[b.variant.module], true
		}
		base := strings.TrimSuffix(strings.TrimSuffix(name, "s"), "Id")
		if k, ok := sweepKindAliases[strings.ToLower(base)]; ok {
			return k, true
		}
		return "", false
	}
	return "", false
}

func (b *sweepBuilder) opKind(op string) (string, bool) {
	name := op
	for _, v := range sweepOpVerbs {
		if rest, ok := strings.CutPrefix(name, v); ok && rest != "" && rest[0] >= 'A' && rest[0] <= 'Z' {
			name = rest
			break
		}
	}
	k, ok := sweepKindAliases[strings.ToLower(name)]
	return k, ok
}

// value builds a value of type t for the place named by path.
func (b *sweepBuilder) value(t *ast.Type, path []string, depth int) sweepValue {
	if t.Elem != nil {
		return sweepValue{isList: true, list: []sweepValue{b.value(t.Elem, path, depth)}}
	}
	name := path[len(path)-1]
	def := b.schema.Types[t.NamedType]
	if def == nil {
		return b.fail("%s: unknown type %s", strings.Join(path, "."), t.NamedType)
	}
	switch def.Kind {
	case ast.Enum:
		switch t.NamedType {
		case "Module":
			return sweepValue{literal: b.variant.module}
		case "PrincipalType":
			return sweepValue{literal: b.variant.principal}
		}
		return sweepValue{literal: def.EnumValues[0].Name}
	case ast.InputObject:
		if depth > 4 {
			return b.fail("%s: inputs nested too deep", strings.Join(path, "."))
		}
		return b.input(def, path, depth+1)
	case ast.Scalar:
		return b.scalar(t.NamedType, name, path, !t.NonNull)
	}
	return b.fail("%s: cannot build a %s", strings.Join(path, "."), t.NamedType)
}

func (b *sweepBuilder) scalar(typ, name string, path []string, optional bool) sweepValue {
	switch typ {
	case "ID":
		k, ok := b.idKind(path)
		if !ok {
			return b.fail("%s: cannot tell which kind of id %q is", strings.Join(path, "."), name)
		}
		return b.slot(k, optional)
	case "Int":
		switch name {
		case "first":
			return sweepValue{literal: "5"}
		case "year":
			return sweepValue{literal: "2026"}
		case "workingMinutes", "dueInWorkingMinutes":
			return sweepValue{literal: "60"}
		}
		return sweepValue{literal: "1"}
	case "Float":
		return sweepValue{literal: "1.5"}
	case "Boolean":
		return sweepValue{literal: "false"}
	case "Date":
		return sweepValue{literal: `"2026-03-02"`}
	case "Time":
		return sweepValue{literal: `"2026-03-02T10:00:00Z"`}
	case "LocalTime":
		if name == "end" {
			return sweepValue{literal: `"17:00"`}
		}
		return sweepValue{literal: `"09:00"`}
	case "JSON":
		return sweepValue{literal: "{}"}
	case "String":
		switch name {
		case "after":
			return b.slot("cursor", true)
		case "email":
			return sweepValue{literal: `"sweep-person@example.com"`}
		case "password":
			return sweepValue{literal: strconv.Quote(apitest.Password)}
		case "timeZone":
			return sweepValue{literal: `"UTC"`}
		case "apiName":
			return sweepValue{literal: `"sweep_field"`}
		case "field":
			return sweepValue{literal: `"name"`}
		case "csv":
			return sweepValue{literal: `"name\nSweep\n"`}
		}
		return sweepValue{literal: `"Sweep"`}
	}
	return b.fail("%s: no value for scalar %s", strings.Join(path, "."), typ)
}

// carriesIDs reports whether an input type has an ID within a few levels.
func (b *sweepBuilder) carriesIDs(def *ast.Definition, depth int) bool {
	if depth > 3 || def == nil {
		return false
	}
	for _, f := range def.Fields {
		t := f.Type
		for t.Elem != nil {
			t = t.Elem
		}
		if t.NamedType == "ID" {
			return true
		}
		if d := b.schema.Types[t.NamedType]; d != nil && d.Kind == ast.InputObject && b.carriesIDs(d, depth+1) {
			return true
		}
	}
	return false
}

func (b *sweepBuilder) input(def *ast.Definition, path []string, depth int) sweepValue {
	out := sweepValue{isObj: true}
	b.inputs = append(b.inputs, def.Name)
	defer func() { b.inputs = b.inputs[:len(b.inputs)-1] }()
	if def.Name == "PrincipalInput" {
		path = append(slices.Clone(path), "#principal")
	}
	if def.Directives.ForName("oneOf") != nil {
		// Exactly one field: the module's, else the first.
		pick := def.Fields[0]
		for _, f := range def.Fields {
			if b.variant.module != "" && sweepModuleKind[b.variant.module] == f.Name {
				pick = f
			}
		}
		return sweepValue{isObj: true, object: [][2]any{{pick.Name, b.value(pick.Type, append(slices.Clone(path), pick.Name), depth)}}}
	}
	for _, f := range def.Fields {
		inner := f.Type
		for inner.Elem != nil {
			inner = inner.Elem
		}
		d := b.schema.Types[inner.NamedType]
		include := f.Type.NonNull || inner.NamedType == "ID" || (d != nil && d.Kind == ast.InputObject && b.carriesIDs(d, 0))
		if !f.Type.NonNull && slices.Contains(b.inputs, inner.NamedType) {
			include = false // and/or: the type within itself, once is enough
		}
		if !include {
			continue
		}
		out.object = append(out.object, [2]any{f.Name, b.value(f.Type, append(slices.Clone(path), f.Name), depth)})
	}
	return out
}

// selection is a selection set of t: its fields without required
// arguments, a few levels deep.
func sweepSelection(s *ast.Schema, t *ast.Type, depth int) string {
	for t.Elem != nil {
		t = t.Elem
	}
	def := s.Types[t.NamedType]
	if def == nil || def.Kind == ast.Scalar || def.Kind == ast.Enum {
		return ""
	}
	if def.Kind == ast.Union || depth > 3 {
		return "{ __typename }"
	}
	var parts []string
	for _, f := range def.Fields {
		if strings.HasPrefix(f.Name, "__") {
			continue
		}
		required := false
		for _, a := range f.Arguments {
			if a.Type.NonNull && a.DefaultValue == nil {
				required = true
			}
		}
		if required {
			continue
		}
		sub := sweepSelection(s, f.Type, depth+1)
		inner := f.Type
		for inner.Elem != nil {
			inner = inner.Elem
		}
		if d := s.Types[inner.NamedType]; d != nil && (d.Kind == ast.Object || d.Kind == ast.Interface || d.Kind == ast.Union) && sub == "" {
			continue
		}
		parts = append(parts, f.Name+" "+sub)
	}
	if len(parts) == 0 {
		return "{ __typename }"
	}
	return "{ __typename " + strings.Join(parts, " ") + " }"
}

// sweepOp is one operation to sweep: a field of Query, Mutation, or of the
// Org an org(id:) subtree reads.
type sweepOp struct {
	name   string // Query.deals, Org.deals ...
	kind   string // query or mutation
	field  *ast.FieldDefinition
	nested bool // a field of Org, reached through org(id:)
}

func sweepOps(s *ast.Schema) []sweepOp {
	var out []sweepOp
	add := func(def *ast.Definition, kind string, nested bool) {
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			if nested && len(f.Arguments) == 0 {
				continue // reads only the org the subtree is in
			}
			out = append(out, sweepOp{name: def.Name + "." + f.Name, kind: kind, field: f, nested: nested})
		}
	}
	add(s.Query, "query", false)
	add(s.Mutation, "mutation", false)
	add(s.Types["Org"], "query", true)
	return out
}

func (op sweepOp) variants() []sweepVariant {
	usesModule, usesPrincipal := false, false
	var walk func(t *ast.Type, depth int)
	s := sweepSchema()
	walk = func(t *ast.Type, depth int) {
		for t.Elem != nil {
			t = t.Elem
		}
		switch t.NamedType {
		case "Module":
			usesModule = true
		case "PrincipalInput":
			usesPrincipal = true
		}
		if d := s.Types[t.NamedType]; d != nil && d.Kind == ast.InputObject && depth < 5 {
			for _, f := range d.Fields {
				walk(f.Type, depth+1)
			}
		}
	}
	for _, a := range op.field.Arguments {
		walk(a.Type, 0)
	}
	modules := []string{""}
	if usesModule {
		modules = []string{"LEADS", "CONTACTS", "ACCOUNTS", "DEALS", "TASKS"}
	}
	principals := []string{"USER"}
	if usesPrincipal {
		principals = []string{"USER", "ROLE", "GROUP"}
	}
	var out []sweepVariant
	for _, m := range modules {
		for _, p := range principals {
			out = append(out, sweepVariant{module: m, principal: p})
		}
	}
	return out
}

var sweepSchemaCache *ast.Schema

func sweepSchema() *ast.Schema {
	if sweepSchemaCache == nil {
		sweepSchemaCache = graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{}, Directives: resolvers.Directives()}).Schema()
	}
	return sweepSchemaCache
}

// call is the request text of op with its arguments, for foreign or missing ids.
func (op sweepOp) call(args [][2]any, mode int, org string, selection string) string {
	var parts []string
	for _, a := range args {
		if mode == sweepBOwn && !op.field.Arguments.ForName(a[0].(string)).Type.NonNull {
			continue // B's own list, unfiltered, from its start
		}
		parts = append(parts, a[0].(string)+": "+a[1].(sweepValue).render(mode))
	}
	f := op.field.Name
	if len(parts) > 0 {
		f += "(" + strings.Join(parts, ", ") + ")"
	}
	f += " " + selection
	if op.nested {
		f = "org(id: " + strconv.Quote(org) + ") { " + f + " }"
	}
	return op.kind + " { " + f + " }"
}

// sweepOrgFingerprint is everything stored for the org: every table with an
// org_id column (org_security, with its security version, included), the
// org's row and the identities of its members; one statement.
func sweepOrgFingerprint(env *apitest.Env, org int64) string {
	env.T.Helper()
	var tables []string
	if err := env.DB.Select(&tables, `SELECT table_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND column_name = 'org_id' ORDER BY table_name`); err != nil {
		env.T.Fatal(err)
	}
	parts := []string{
		`SELECT 'orgs', (SELECT t::text FROM orgs t WHERE id = $1)`,
		`SELECT 'users', (SELECT coalesce(string_agg(u::text, '|' ORDER BY u.id), '') FROM users u
			WHERE u.id IN (SELECT user_id FROM members WHERE org_id = $1))`,
	}
	for _, t := range tables {
		parts = append(parts, `SELECT '`+t+`', (SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM "`+t+`" t WHERE org_id = $1)`)
	}
	var rows []struct {
		Name string `db:"name"`
		Hash string `db:"hash"`
	}
	if err := env.DB.Select(&rows, `SELECT * FROM (`+strings.Join(parts, " UNION ALL ")+`) f(name, hash)`, org); err != nil {
		env.T.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(r.Name + "=" + r.Hash + "\n")
	}
	return b.String()
}

// sweepKindTables name where a kind's rows live, to take one of B's.
var sweepKindTables = map[string]string{
	"member": "members", "role": "roles", "profile": "profiles", "group": "groups", "rule": "sharing_rules",
	"field": "custom_field_definitions", "shift": "shifts", "holiday": "holidays", "audit": "audit_log",
	"lead": "leads", "contact": "contacts", "account": "accounts", "deal": "deals", "task": "tasks",
	"invitation": "invitations",
}

// sweepSecret is in the name of everything of B: no answer to A may carry it.
const sweepSecret = "bravo"

// sweepPopulate gives org o something of every kind, named prefix+"...";
// it returns a member id other than the admin's.
func sweepPopulate(env *apitest.Env, o *aoOrg, prefix string) string {
	env.T.Helper()
	role := o.createRole(prefix+" Rep", o.topRole)
	_, member := o.addMember(strings.ToLower(prefix)+"-rep@example.com", prefix+" Rep Person", role, nil)
	group := recStr(o.must(o.admin, `mutation($in: CreateGroupInput!) { createGroup(input: $in) { id } }`,
		obj{"in": obj{"name": prefix + " Group", "members": []obj{{"type": "USER", "id": member}}}}), "createGroup", "id")
	acc := recStr(recCreate(env, o.admin, recAccount, obj{"name": prefix + " Account", "phone": prefix + "-phone"}), "id")
	con := recStr(recCreate(env, o.admin, recContact, obj{"lastName": prefix + " Contact", "accountId": acc, "bankAccountNumber": prefix + "-IBAN"}), "id")
	recCreate(env, o.admin, recLead, obj{"lastName": prefix + " Lead", "company": prefix + " Company"})
	deal := recStr(recCreate(env, o.admin, recDeal, obj{"name": prefix + " Deal", "accountId": acc, "contactId": con, "stage": prefix + "-stage"}), "id")
	recCreate(env, o.admin, recTask, obj{"subject": prefix + " Task", "relatedToId": deal})
	o.must(o.admin, `mutation($in: CreateSharingRuleInput!) { createSharingRule(input: $in) { id } }`, obj{"in": obj{
		"module": "DEALS", "name": prefix + " Rule", "source": obj{"type": "ROLE", "id": role}, "target": obj{"type": "GROUP", "id": group}, "access": "READ_ONLY"}})
	o.must(o.admin, `mutation($d: ID!, $m: ID!) { shareRecords(module: DEALS, recordIds: [$d], shares: [{principal: {type: USER, id: $m}, access: READ_ONLY}]) { recordId } }`,
		obj{"d": deal, "m": member})
	o.must(o.admin, invInviteQ, obj{"in": obj{"email": strings.ToLower(prefix) + "-invitee@example.com", "roleId": role, "profileId": o.stdPrf}})
	o.must(o.admin, `mutation($n: String!) { createShift(input: {name: $n, timeZone: "UTC", days: [{day: MONDAY, start: "09:00", end: "17:00"}]}) { id } }`, obj{"n": prefix + " Shift"})
	o.must(o.admin, `mutation($n: String!) { createHoliday(input: {date: "2026-12-24", name: $n}) { id } }`, obj{"n": prefix + " Holiday"})
	o.must(o.admin, `mutation($a: String!, $l: String!) { createCustomField(input: {module: DEALS, apiName: $a, label: $l, type: TEXT}) { id } }`,
		obj{"a": strings.ToLower(prefix) + "_field", "l": prefix + " Field"})
	o.must(o.admin, `mutation($n: String!) { createProfile(input: {name: $n}) { id } }`, obj{"n": prefix + " Profile"})
	return member
}

// sweepIDs is an id of every kind of the org's.
func sweepIDs(env *apitest.Env, o *aoOrg, member string) map[string]string {
	env.T.Helper()
	out := map[string]string{"org": o.id}
	for kind, table := range sweepKindTables {
		var key int64
		if err := env.DB.Get(&key, `SELECT id FROM "`+table+`" WHERE org_id = $1 ORDER BY id DESC LIMIT 1`, o.key); err != nil {
			env.T.Fatalf("org %s has no %s: %v", o.id, kind, err)
		}
		out[kind] = ids.Encode(ids.Kind(kind), key)
	}
	out["member"] = member // not the admin: a member with nothing to lose
	return out
}

func TestIsolationSweep(t *testing.T) {
	env := apitest.New(t)
	s := sweepSchema()

	// Org B, with something of every kind, all named "Bravo ...". The
	// attacker is an Administrator of A (every permission there), not a
	// member of B; A has the same things of its own, whose ids the calls
	// use where they probe one of B's ids at a time.
	b := aoNewOrg(env, "bravo-admin@example.com", "Bravo Org")
	bIDs := sweepIDs(env, b, sweepPopulate(env, b, "Bravo"))
	a := aoNewOrg(env, "alpha-admin@example.com", "Alpha Org")
	aIDs := sweepIDs(env, a, sweepPopulate(env, a, "Alpha"))

	t.Run("outsider", func(t *testing.T) {
		sweepRun(envFor(env, t), s, a, b, a.admin, aIDs, bIDs)
	})

	// The same attacker once also a Standard member of B: acting in A, B's
	// ids must still be nothing (no path may resolve them in B, the org
	// where the user could see them). B's org id itself is now the user's
	// to name, so org ids come from an org C they are not in.
	b.must(b.admin, `mutation($in: AddMemberInput!) { addMember(input: $in) { id } }`, obj{"in": obj{
		"email": "alpha-admin@example.com", "name": "x", "roleId": b.topRole, "profileId": b.stdPrf}})
	c := aoNewOrg(env, "charlie-admin@example.com", "Charlie Org")
	bothIDs := maps.Clone(bIDs)
	bothIDs["org"] = c.id
	t.Run("member of both", func(t *testing.T) {
		sweepRun(envFor(env, t), s, a, b, a.admin, aIDs, bothIDs)
	})
}

// sweepRun sweeps every operation as attacker, acting in a, with the ids of
// bIDs (b's, save where said otherwise).
func sweepRun(env *apitest.Env, s *ast.Schema, a, b *aoOrg, attacker apitest.Caller, aIDs, bIDs map[string]string) {
	t := env.T.(*testing.T)
	before := sweepOrgFingerprint(env, b.key)
	var unbuildable []string
	swept := 0
	for _, op := range sweepOps(s) {
		if why, ok := sweepNoTenantData[op.name]; ok && !op.nested {
			t.Logf("not swept: %s (%s)", op.name, why)
			continue
		}
		for _, v := range op.variants() {
			label := op.name
			if v.module != "" || v.principal != "USER" {
				label += fmt.Sprintf(" [%s %s]", v.module, v.principal)
			}
			bld := &sweepBuilder{schema: s, bIDs: bIDs, aIDs: aIDs, variant: v, op: op.field.Name}
			var args [][2]any
			for _, arg := range op.field.Arguments {
				inner := arg.Type
				for inner.Elem != nil {
					inner = inner.Elem
				}
				d := s.Types[inner.NamedType]
				needed := arg.Type.NonNull && arg.DefaultValue == nil
				idLike := inner.NamedType == "ID" || arg.Name == "after" || (d != nil && d.Kind == ast.InputObject && bld.carriesIDs(d, 0))
				if !needed && !idLike {
					continue
				}
				args = append(args, [2]any{arg.Name, bld.value(arg.Type, []string{op.field.Name, arg.Name}, 0)})
			}
			if len(bld.errs) > 0 {
				unbuildable = append(unbuildable, label+": "+strings.Join(bld.errs, "; "))
				continue
			}
			sel := sweepSelection(s, op.field.Type, 0)
			// Cursors: from the same list in B, as B's Administrator.
			for _, sl := range bld.slots {
				if sl.kind != "cursor" {
					continue
				}
				r := env.Do(b.admin, op.call(args, sweepBOwn, b.id, `{ pageInfo { endCursor } }`), nil)
				var out obj
				_ = json.Unmarshal(r.Data, &out)
				list := recPath(out, op.field.Name)
				if op.nested {
					list = recPath(out, "org", op.field.Name)
				}
				if sl.foreign = recStr(list, "pageInfo", "endCursor"); sl.foreign == "" {
					unbuildable = append(unbuildable, fmt.Sprintf("%s: no cursor from org B's list (%v)", label, r.Errors))
				}
			}
			if slices.ContainsFunc(bld.slots, func(sl *sweepSlot) bool { return sl.foreign == "" }) {
				continue
			}
			// Every slot of B's at once; then, when there are several, one at
			// a time with A's own ids elsewhere (the others cannot then fail
			// first and hide it).
			probes := [][]*sweepSlot{bld.slots}
			if len(bld.slots) > 1 {
				for _, sl := range bld.slots {
					probes = append(probes, []*sweepSlot{sl})
				}
			}
			for pi, probe := range probes {
				name := label
				if pi > 0 {
					name += " only " + probe[0].kind + " of B's"
				}
				for _, sl := range bld.slots {
					sl.probe, sl.alone = slices.Contains(probe, sl), pi > 0
				}
				swept++
				t.Run(name, func(t *testing.T) {
					env := envFor(env, t)
					t.Log(op.call(args, sweepForeign, a.id, sel))
					missing := env.Do(attacker, op.call(args, sweepMissing, a.id, sel), nil)
					foreign := env.Do(attacker, op.call(args, sweepForeign, a.id, sel), nil)
					recNoLeak(t, foreign)
					t.Logf("answer: %v %s", foreign.Errors, foreign.Data)
					body, _ := json.Marshal(foreign)
					if strings.Contains(strings.ToLower(string(body)), sweepSecret) {
						t.Errorf("the answer carries org B's data: %s", body)
					}
					// A write that went through with an id that exists nowhere
					// changed A: the second call's answer may differ for that
					// reason alone, so only queries and refused writes compare.
					if len(probe) > 0 && (op.kind == "query" || len(missing.Errors) > 0) {
						f, m := sweepNormalize(foreign, probe), sweepNormalize(missing, nil)
						if f != m {
							t.Errorf("B's ids are told apart from ids that exist nowhere:\nwith B's: %s\nmissing:  %s", f, m)
						}
					}
					if after := sweepOrgFingerprint(env, b.key); after != before {
						t.Fatalf("org B changed:\n%s", sweepDiff(before, after))
					}
				})
			}
		}
	}
	if len(unbuildable) > 0 {
		sort.Strings(unbuildable)
		t.Errorf("the sweep cannot build arguments for %d operations; teach it (or allow-list an operation that takes no tenant data):\n%s",
			len(unbuildable), strings.Join(unbuildable, "\n"))
	}
	t.Logf("swept %d operation variants", swept)
	if swept < 50 {
		t.Errorf("only %d operation variants swept", swept)
	}
}

var sweepTimes = regexp.MustCompile(`"\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)"`)
var sweepNewIDs = regexp.MustCompile(`"[a-z]+_\d+"`)

// sweepNormalize is a response with B's ids swapped for the missing ones;
// when it has data (the call succeeded), times and new ids are masked.
func sweepNormalize(r *apitest.Response, slots []*sweepSlot) string {
	b, _ := json.Marshal(struct {
		Status int
		Codes  []string
		Errs   []string
		Data   json.RawMessage
	}{r.Status, r.Codes(), sweepMessages(r), r.Data})
	s := string(b)
	for _, sl := range slots {
		s = strings.ReplaceAll(s, sl.foreign, sl.missing)
	}
	if len(r.Errors) == 0 {
		s = sweepTimes.ReplaceAllString(s, `"T"`)
		s = sweepNewIDs.ReplaceAllString(s, `"ID"`)
	}
	return s
}

func sweepMessages(r *apitest.Response) []string {
	var out []string
	for _, e := range r.Errors {
		out = append(out, e.Message+" @"+fmt.Sprint(e.Path))
	}
	return out
}

func sweepDiff(before, after string) string {
	b, a := strings.Split(before, "\n"), strings.Split(after, "\n")
	var out []string
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			out = append(out, a[i])
		}
	}
	return strings.Join(out, "\n")
}
