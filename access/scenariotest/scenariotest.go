// Package scenariotest loads the access scenario files (shared/scenarios,
// copied to access/testdata/scenarios) into the access engine's types, so
// that every implementation of access (the pure engine, the Postgres-backed
// server) runs the same conformance suite.
package scenariotest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"warden/access"
)

// Id ranges given to the local names of a file, distinct per kind so that a
// mix-up of kinds cannot pass unnoticed.
const (
	MemberBase  = 1000
	RoleBase    = 2000
	ProfileBase = 3000
	GroupBase   = 4000
	RuleBase    = 5000
	RecordBase  = 10000 // one sequence for the records of every module, as in the database
)

// File is a scenario file as it is written.
type File struct {
	Name          string                            `json:"name"`
	Description   string                            `json:"description"`
	HierarchyMode string                            `json:"hierarchyMode"`
	Roles         []FileRole                        `json:"roles"`
	Profiles      []FileProfile                     `json:"profiles"`
	Members       []FileMember                      `json:"members"`
	Groups        []FileGroup                       `json:"groups"`
	OrgDefaults   map[string]string                 `json:"orgDefaults"`
	SharingRules  []FileRule                        `json:"sharingRules"`
	Records       []FileRecord                      `json:"records"`
	Shares        []FileShare                       `json:"shares"`
	Expect        map[string]map[string]Expectation `json:"expect"`
}

type FileRole struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	Parent         *string `json:"parent"`
	ShareWithPeers bool    `json:"shareWithPeers"`
}

type FileProfile struct {
	ID            string              `json:"id"`
	Administrator bool                `json:"administrator"`
	Modules       map[string][]string `json:"modules"`
}

type FileMember struct {
	ID        string  `json:"id"`
	Role      string  `json:"role"`
	Profile   string  `json:"profile"`
	ReportsTo *string `json:"reportsTo"`
	Active    *bool   `json:"active"` // absent: active
}

type FilePrincipal struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type FileGroup struct {
	ID      string          `json:"id"`
	Name    string          `json:"name"`
	Members []FilePrincipal `json:"members"`
}

type FileCriteria struct {
	Op         string          `json:"op"`
	Conditions []FileCondition `json:"conditions"`
}

type FileCondition struct {
	Field string `json:"field"`
	Op    string `json:"op"`
	Value any    `json:"value"`
}

type FileRule struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	Module           string         `json:"module"`
	Source           *FilePrincipal `json:"source"`
	Criteria         *FileCriteria  `json:"criteria"`
	Target           FilePrincipal  `json:"target"`
	Access           string         `json:"access"`
	SuperiorsAllowed bool           `json:"superiorsAllowed"`
}

type FileRef struct {
	Module string `json:"module"`
	ID     string `json:"id"`
}

type FileRecord struct {
	Module    string         `json:"module"`
	ID        string         `json:"id"`
	Owner     string         `json:"owner"`
	Fields    map[string]any `json:"fields"`
	Account   *FileRef       `json:"account"`
	RelatedTo *FileRef       `json:"relatedTo"`
}

type FileShare struct {
	Module         string        `json:"module"`
	Record         string        `json:"record"`
	Principal      FilePrincipal `json:"principal"`
	Access         string        `json:"access"`
	IncludeRelated bool          `json:"includeRelated"`
}

// Expectation is one member's expected access to one record.
type Expectation struct {
	Level string   `json:"level"`
	Can   []string `json:"can"`
}

// Record is one record of a scenario with engine ids.
type Record struct {
	Key     string // "MODULE/localId", as in expect
	Module  access.Module
	ID      int64
	OwnerID int64
	Fields  map[string]any
	Parent  *access.RecordRef
}

// Scenario is a loaded scenario file: the org as engine input, records and
// shares with engine ids, and the maps between local names and ids.
type Scenario struct {
	Path string
	File File
	Org  access.OrgData

	Records []Record
	Shares  []access.Share

	MemberIDs  map[string]int64 // local name -> id
	RoleIDs    map[string]int64
	ProfileIDs map[string]int64
	GroupIDs   map[string]int64
	RuleIDs    map[string]int64
	RecordIDs  map[string]int64 // "MODULE/local" -> id

	MemberNames []string // local member names in file order
}

// LoadDir loads every *.json file of dir, sorted by name.
func LoadDir(dir string) ([]*Scenario, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	out := make([]*Scenario, 0, len(paths))
	for _, p := range paths {
		s, err := Load(p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Load reads and decodes one scenario file.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.Path = path
	return s, nil
}

// Decode decodes a scenario from its JSON text.
func Decode(data []byte) (*Scenario, error) {
	var f File
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	s := &Scenario{
		File:       f,
		MemberIDs:  map[string]int64{},
		RoleIDs:    map[string]int64{},
		ProfileIDs: map[string]int64{},
		GroupIDs:   map[string]int64{},
		RuleIDs:    map[string]int64{},
		RecordIDs:  map[string]int64{},
	}
	mode, err := access.ParseHierarchyMode(orDefault(f.HierarchyMode, "ROLE"))
	if err != nil {
		return nil, err
	}
	s.Org = access.OrgData{OrgID: 1, Version: 1, HierarchyMode: mode, Defaults: map[access.Module]access.Level{}}
	for i, r := range f.Roles {
		s.RoleIDs[r.ID] = RoleBase + int64(i) + 1
	}
	for i, p := range f.Profiles {
		s.ProfileIDs[p.ID] = ProfileBase + int64(i) + 1
	}
	for i, m := range f.Members {
		s.MemberIDs[m.ID] = MemberBase + int64(i) + 1
		s.MemberNames = append(s.MemberNames, m.ID)
	}
	for i, g := range f.Groups {
		s.GroupIDs[g.ID] = GroupBase + int64(i) + 1
	}
	for i, r := range f.SharingRules {
		s.RuleIDs[r.ID] = RuleBase + int64(i) + 1
	}
	for i, r := range f.Records {
		s.RecordIDs[r.Module+"/"+r.ID] = RecordBase + int64(i) + 1
	}
	lookup := func(kind string, m map[string]int64, name string) (int64, error) {
		id, ok := m[name]
		if !ok {
			return 0, fmt.Errorf("unknown %s %q", kind, name)
		}
		return id, nil
	}
	principal := func(p FilePrincipal) (access.Principal, error) {
		t, err := access.ParsePrincipalType(p.Type)
		if err != nil {
			return access.Principal{}, err
		}
		var id int64
		switch t {
		case access.PrincipalUser:
			id, err = lookup("member", s.MemberIDs, p.ID)
		case access.PrincipalRole, access.PrincipalRoleAndSubordinates:
			id, err = lookup("role", s.RoleIDs, p.ID)
		case access.PrincipalGroup:
			id, err = lookup("group", s.GroupIDs, p.ID)
		}
		return access.Principal{Type: t, ID: id}, err
	}

	for _, r := range f.Roles {
		role := access.Role{ID: s.RoleIDs[r.ID], Name: orDefault(r.Name, r.ID), ShareWithPeers: r.ShareWithPeers}
		if r.Parent != nil {
			if role.ParentID, err = lookup("role", s.RoleIDs, *r.Parent); err != nil {
				return nil, err
			}
		}
		s.Org.Roles = append(s.Org.Roles, role)
	}
	for _, p := range f.Profiles {
		prof := access.Profile{ID: s.ProfileIDs[p.ID], Name: p.ID, Administrator: p.Administrator,
			Modules: map[access.Module]access.PermissionSet{}}
		for m, perms := range p.Modules {
			mod, err := access.ParseModule(m)
			if err != nil {
				return nil, err
			}
			if prof.Modules[mod], err = access.ParsePermissionSet(perms); err != nil {
				return nil, err
			}
		}
		s.Org.Profiles = append(s.Org.Profiles, prof)
	}
	for _, m := range f.Members {
		mem := access.Member{ID: s.MemberIDs[m.ID], Name: m.ID, Active: m.Active == nil || *m.Active}
		if mem.RoleID, err = lookup("role", s.RoleIDs, m.Role); err != nil {
			return nil, err
		}
		if mem.ProfileID, err = lookup("profile", s.ProfileIDs, m.Profile); err != nil {
			return nil, err
		}
		if m.ReportsTo != nil {
			if mem.ReportsToID, err = lookup("member", s.MemberIDs, *m.ReportsTo); err != nil {
				return nil, err
			}
		}
		s.Org.Members = append(s.Org.Members, mem)
	}
	for _, g := range f.Groups {
		grp := access.Group{ID: s.GroupIDs[g.ID], Name: orDefault(g.Name, g.ID)}
		for _, p := range g.Members {
			pp, err := principal(p)
			if err != nil {
				return nil, fmt.Errorf("group %s: %w", g.ID, err)
			}
			grp.Members = append(grp.Members, pp)
		}
		s.Org.Groups = append(s.Org.Groups, grp)
	}
	for m, d := range f.OrgDefaults {
		mod, err := access.ParseModule(m)
		if err != nil {
			return nil, err
		}
		if s.Org.Defaults[mod], err = access.DefaultAccess(d).Level(); err != nil {
			return nil, err
		}
	}
	for _, r := range f.SharingRules {
		rule := access.SharingRule{ID: s.RuleIDs[r.ID], Name: orDefault(r.Name, r.ID), SuperiorsAllowed: r.SuperiorsAllowed}
		if rule.Module, err = access.ParseModule(r.Module); err != nil {
			return nil, err
		}
		if rule.Level, err = access.ParseLevel(r.Access); err != nil {
			return nil, err
		}
		if rule.Target, err = principal(r.Target); err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.ID, err)
		}
		if r.Source != nil {
			src, err := principal(*r.Source)
			if err != nil {
				return nil, fmt.Errorf("rule %s: %w", r.ID, err)
			}
			rule.Source = &src
		}
		if r.Criteria != nil {
			c := &access.Criteria{Op: access.LogicalOp(r.Criteria.Op)}
			for _, cond := range r.Criteria.Conditions {
				c.Conditions = append(c.Conditions, access.Condition{Field: cond.Field, Op: access.ConditionOp(cond.Op), Value: cond.Value})
			}
			rule.Criteria = c
		}
		s.Org.Rules = append(s.Org.Rules, rule)
	}
	for _, r := range f.Records {
		mod, err := access.ParseModule(r.Module)
		if err != nil {
			return nil, err
		}
		rec := Record{Key: r.Module + "/" + r.ID, Module: mod, ID: s.RecordIDs[r.Module+"/"+r.ID], Fields: r.Fields}
		if rec.OwnerID, err = lookup("member", s.MemberIDs, r.Owner); err != nil {
			return nil, fmt.Errorf("record %s: %w", rec.Key, err)
		}
		if r.Account != nil && r.RelatedTo != nil {
			return nil, fmt.Errorf("record %s: both account and relatedTo", rec.Key)
		}
		for _, ref := range []*FileRef{r.Account, r.RelatedTo} {
			if ref == nil {
				continue
			}
			pm, err := access.ParseModule(ref.Module)
			if err != nil {
				return nil, err
			}
			pid, err := lookup("record", s.RecordIDs, ref.Module+"/"+ref.ID)
			if err != nil {
				return nil, fmt.Errorf("record %s: %w", rec.Key, err)
			}
			rec.Parent = &access.RecordRef{Module: pm, ID: pid}
		}
		s.Records = append(s.Records, rec)
	}
	for _, sh := range f.Shares {
		mod, err := access.ParseModule(sh.Module)
		if err != nil {
			return nil, err
		}
		share := access.Share{Module: mod, IncludeRelated: sh.IncludeRelated}
		if share.RecordID, err = lookup("record", s.RecordIDs, sh.Module+"/"+sh.Record); err != nil {
			return nil, err
		}
		if share.Principal, err = principal(sh.Principal); err != nil {
			return nil, err
		}
		if share.Level, err = access.ParseLevel(sh.Access); err != nil {
			return nil, err
		}
		s.Shares = append(s.Shares, share)
	}
	for member, recs := range f.Expect {
		if _, ok := s.MemberIDs[member]; !ok {
			return nil, fmt.Errorf("expect: unknown member %q", member)
		}
		for key, e := range recs {
			if _, ok := s.RecordIDs[key]; !ok {
				return nil, fmt.Errorf("expect: member %s: unknown record %q", member, key)
			}
			if _, err := access.ParseLevel(e.Level); err != nil {
				return nil, fmt.Errorf("expect: member %s, record %s: %w", member, key, err)
			}
			for _, c := range e.Can {
				if !slices.Contains([]string{"read", "edit", "delete", "share", "changeOwner"}, c) {
					return nil, fmt.Errorf("expect: member %s, record %s: unknown permission %q", member, key, c)
				}
			}
		}
	}
	return s, nil
}

func orDefault(s, d string) string {
	if s != "" {
		return s
	}
	return d
}

// Name is the scenario's name (the file's name without .json when unnamed).
func (s *Scenario) Name() string {
	if s.File.Name != "" {
		return s.File.Name
	}
	return strings.TrimSuffix(filepath.Base(s.Path), ".json")
}

// Expected is what member (local name) may do with record key
// ("MODULE/local"): NONE and nothing when the file lists no expectation.
func (s *Scenario) Expected(member, recordKey string) Expectation {
	if e, ok := s.File.Expect[member][recordKey]; ok {
		return e
	}
	return Expectation{Level: "NONE", Can: []string{}}
}

// Record returns a record by key.
func (s *Scenario) Record(key string) (*Record, bool) {
	for i := range s.Records {
		if s.Records[i].Key == key {
			return &s.Records[i], true
		}
	}
	return nil, false
}

// SharesOf lists the shares of one record.
func (s *Scenario) SharesOf(m access.Module, id int64) []access.Share {
	var out []access.Share
	for _, sh := range s.Shares {
		if sh.Module == m && sh.RecordID == id {
			out = append(out, sh)
		}
	}
	return out
}

// BruteFacts are the facts of a record straight from the file.
func (s *Scenario) BruteFacts(r *Record) *access.BruteFacts {
	f := &access.BruteFacts{Mod: r.Module, ID: r.ID, Owner: r.OwnerID, Fields: r.Fields, Direct: s.SharesOf(r.Module, r.ID)}
	if r.Parent != nil {
		f.Related = s.SharesOf(r.Parent.Module, r.Parent.ID)
	}
	return f
}

// Snapshot builds the org's snapshot.
func (s *Scenario) Snapshot() (*access.Snapshot, error) { return access.NewSnapshot(s.Org) }

// Index builds the visibility index of the scenario's records and shares,
// with rule matches computed by snap.
func (s *Scenario) Index(snap *access.Snapshot) (*access.Index, error) {
	ix := access.NewIndex()
	for _, r := range s.Records {
		if err := ix.UpsertRecord(access.IndexedRecord{Module: r.Module, ID: r.ID, OwnerID: r.OwnerID, Parent: r.Parent,
			MatchingRules: snap.MatchingRules(r.Module, r.Fields)}); err != nil {
			return nil, err
		}
	}
	for _, sh := range s.Shares {
		if err := ix.AddShare(sh); err != nil {
			return nil, err
		}
	}
	return ix, nil
}
