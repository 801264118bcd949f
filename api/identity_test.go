package api_test

import (
	"slices"
	"testing"

	"warden/api/apitest"
)

func TestSignupLoginAndCreateOrg(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	ann := env.Signup("ann@example.com", "Ann")

	var login struct {
		Login struct {
			Token  string
			Viewer struct {
				User struct{ Email string }
				Orgs []struct{ ID string }
			}
		}
	}
	env.Must(apitest.Caller{}, `mutation { login(email: "ANN@example.com", password: "`+apitest.Password+`") {
		token viewer { user { email } orgs { id } } } }`, nil, &login)
	if login.Login.Token == "" || login.Login.Viewer.User.Email != "ann@example.com" || len(login.Login.Viewer.Orgs) != 0 {
		t.Fatalf("login: %+v", login)
	}

	acme := env.CreateOrg(ann, "Acme")
	var org struct {
		Viewer struct {
			ActiveOrg struct{ ID, Name string }
			Member    struct {
				Role    struct{ Name string }
				Profile struct {
					Name          string
					Administrator bool
				}
			}
		}
		Profiles []struct {
			Name              string
			Administrator     bool
			ModulePermissions []struct {
				Module                                         string
				View, Create, Edit, Share, Delete, ChangeOwner bool
			}
		}
		Roles []struct {
			Name   string
			Parent *struct{ Name string }
		}
	}
	env.Must(acme, `{ viewer { activeOrg { id name } member { role { name } profile { name administrator } } }
		profiles { name administrator modulePermissions { module view create edit share delete changeOwner } }
		roles { name parent { name } } }`, nil, &org)
	if org.Viewer.ActiveOrg.ID != acme.Org || org.Viewer.Member.Profile.Name != "Administrator" || !org.Viewer.Member.Profile.Administrator {
		t.Fatalf("creator is not the administrator of the new org: %+v", org.Viewer)
	}
	if len(org.Roles) != 1 || org.Roles[0].Parent != nil {
		t.Fatalf("want one top role, got %+v", org.Roles)
	}
	var names []string
	for _, p := range org.Profiles {
		names = append(names, p.Name)
		if p.Name == "Standard" {
			for _, mp := range p.ModulePermissions {
				if !mp.View || !mp.Create || !mp.Edit || !mp.Share || mp.Delete || mp.ChangeOwner {
					t.Errorf("Standard on %s: %+v, want view create edit share only", mp.Module, mp)
				}
			}
		}
	}
	if !slices.Equal(names, []string{"Administrator", "Standard"}) {
		t.Fatalf("profiles %v", names)
	}

	// The first org becomes the default: no X-Org-ID needed.
	var deals struct{ Deals struct{ TotalCount int } }
	env.Must(apitest.Caller{Token: ann.Token}, `{ deals(first: 1) { totalCount } }`, nil, &deals)
}

func TestSwitchingOrgsAndMultiOrgQuery(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	bob := env.Signup("bob@example.com", "Bob")
	a := env.CreateOrg(bob, "A")
	b := env.CreateOrg(bob, "B")
	env.Must(a, `mutation { createDeal(input: {name: "in A"}) { id } }`, nil, nil)
	for i := 0; i < 2; i++ {
		env.Must(b, `mutation { createDeal(input: {name: "in B"}) { id } }`, nil, nil)
	}

	count := func(c apitest.Caller) int {
		var out struct{ Deals struct{ TotalCount int } }
		env.Must(c, `{ deals(first: 1) { totalCount } }`, nil, &out)
		return out.Deals.TotalCount
	}
	noHeader := apitest.Caller{Token: bob.Token}
	if got := count(noHeader); got != 1 {
		t.Fatalf("default org is the first one: want 1 deal, got %d", got)
	}
	if got := count(b); got != 2 {
		t.Fatalf("X-Org-ID B: want 2, got %d", got)
	}
	env.Must(noHeader, `mutation($id: ID!) { setDefaultOrg(orgId: $id) { activeOrg { id } } }`, map[string]any{"id": b.Org}, nil)
	if got := count(noHeader); got != 2 {
		t.Fatalf("after setDefaultOrg(B): want 2, got %d", got)
	}

	var both struct {
		A, B struct {
			Name  string
			Deals struct {
				TotalCount int
				Edges      []struct{ Node struct{ Name string } }
			}
		}
	}
	env.Must(noHeader, `query($a: ID!, $b: ID!) {
		a: org(id: $a) { name deals(first: 5) { totalCount edges { node { name } } } }
		b: org(id: $b) { name deals(first: 5) { totalCount edges { node { name } } } } }`,
		map[string]any{"a": a.Org, "b": b.Org}, &both)
	if both.A.Deals.TotalCount != 1 || both.A.Deals.Edges[0].Node.Name != "in A" || both.B.Deals.TotalCount != 2 || both.B.Deals.Edges[0].Node.Name != "in B" {
		t.Fatalf("multi-org query: %+v", both)
	}
}

func TestTokenlessAndStrangerRequests(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	carol := env.Signup("carol@example.com", "Carol")
	org := env.CreateOrg(carol, "C")
	dave := env.Signup("dave@example.com", "Dave")

	env.Fails(apitest.Caller{}, "UNAUTHENTICATED", `{ deals(first: 1) { totalCount } }`, nil)
	env.Fails(apitest.Caller{Token: "not-a-token"}, "UNAUTHENTICATED", `{ viewer { user { id } } }`, nil)
	r := env.Fails(dave.In(org.Org), "FORBIDDEN", `{ deals(first: 1) { totalCount } }`, nil)
	if r.Status != 403 || string(r.Data) != "null" {
		t.Fatalf("a stranger's X-Org-ID must reveal nothing: status %d data %s", r.Status, r.Data)
	}
	var out struct{ Org *struct{ Name string } }
	env.Must(apitest.Caller{Token: dave.Token}, `query($id: ID!) { org(id: $id) { name } }`, map[string]any{"id": org.Org}, &out)
	if out.Org != nil {
		t.Fatalf("org(id:) of a stranger's org must be null, got %+v", out.Org)
	}
}
