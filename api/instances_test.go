package api_test

import (
	"math/rand"
	"net/http/httptest"
	"slices"
	"testing"

	"warden/api/apitest"
)

// Two server instances over one database and one Redis, each with its own
// in-process access cache: a change made through one is in force for the
// very next request on the other (access-model.md, Consistency), even though
// the other had the old state warm in its cache. Redis's notification may
// or may not have arrived by then; the version check against Postgres is
// what makes it hold (TestRedisKilledMidTest covers Redis being gone).

type inWorld struct {
	one, two              *apitest.Env // instance 1 and 2
	admin, mgr, rep, peer apitest.Caller
	peerID, repID         string
}

// inInstances starts instance 2 beside env's own server (instance 1), over
// the same database and Redis namespace; like instance 1, it has its own engine.
func inInstances(t *testing.T) (one, two *apitest.Env) {
	env := apitest.New(t)
	srv := httptest.NewServer(apitest.NewHandler(t, env.DB))
	t.Cleanup(srv.Close)
	return env, &apitest.Env{T: t, DB: env.DB, Server: srv}
}

// inSetup makes an org on instance 1: the admin, a manager (Manager role
// under CEO), the manager's rep (Rep under Manager) and a peer (Other under
// CEO), all Standard but the admin.
func inSetup(t *testing.T, one, two *apitest.Env, prefix string) *inWorld {
	one, two = &apitest.Env{T: t, DB: one.DB, Server: one.Server, Counted: one.Counted}, &apitest.Env{T: t, DB: two.DB, Server: two.Server}
	w := &inWorld{one: one, two: two}
	w.admin = one.CreateOrg(one.Signup(prefix+"-admin@example.com", "Ada Admin"), "Two instances "+prefix)
	org := w.admin.Org
	mgr, rep, peer := one.Signup(prefix+"-mgr@example.com", "Max Manager"), one.Signup(prefix+"-rep@example.com", "Rita Rep"), one.Signup(prefix+"-peer@example.com", "Pia Peer")
	one.AddMember(org, mgr, "Manager", "CEO", false)
	one.AddMember(org, rep, "Rep", "Manager", false)
	one.AddMember(org, peer, "Other", "CEO", false)
	w.mgr, w.rep, w.peer = mgr.In(org), rep.In(org), peer.In(org)
	w.peerID, w.repID = inMemberID(t, one, w.peer), inMemberID(t, one, w.rep)
	return w
}

func inMemberID(t *testing.T, env *apitest.Env, c apitest.Caller) string {
	t.Helper()
	var out struct {
		Viewer struct{ Member struct{ ID string } }
	}
	env.Must(c, `{ viewer { member { id } } }`, nil, &out)
	return out.Viewer.Member.ID
}

// inDeals is what the caller's deal list and a lookup of id say on env.
func inDeals(t *testing.T, env *apitest.Env, c apitest.Caller, id string) (listed []string, total int, found bool, level string) {
	t.Helper()
	var out struct {
		Deals struct {
			TotalCount int
			Edges      []struct{ Node struct{ ID string } }
		}
		Deal *struct {
			ID     string
			Access struct{ Level string }
		}
	}
	env.Must(c, `query($id: ID!) { deals(first: 100) { totalCount edges { node { id } } } deal(id: $id) { id access { level } } }`,
		map[string]any{"id": id}, &out)
	for _, e := range out.Deals.Edges {
		listed = append(listed, e.Node.ID)
	}
	if out.Deal != nil {
		found, level = true, out.Deal.Access.Level
	}
	return listed, out.Deals.TotalCount, found, level
}

func inCreateDeal(t *testing.T, env *apitest.Env, c apitest.Caller, name string) string {
	t.Helper()
	var out struct{ CreateDeal struct{ ID string } }
	env.Must(c, `mutation($in: CreateDealInput!) { createDeal(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"name": name, "stage": "Open"}}, &out)
	return out.CreateDeal.ID
}

func inShare(t *testing.T, env *apitest.Env, c apitest.Caller, deal, member string) {
	t.Helper()
	env.Must(c, `mutation($ids: [ID!]!, $shares: [RecordShareInput!]!) { shareRecords(module: DEALS, recordIds: $ids, shares: $shares) { recordId } }`,
		map[string]any{"ids": []string{deal}, "shares": []any{map[string]any{"principal": map[string]any{"type": "USER", "id": member}, "access": "READ_ONLY"}}}, nil)
}

func inRevoke(t *testing.T, env *apitest.Env, c apitest.Caller, deal, member string) {
	t.Helper()
	var out struct{ RevokeRecordShares int }
	env.Must(c, `mutation($ids: [ID!]!, $ps: [PrincipalInput!]!) { revokeRecordShares(module: DEALS, recordIds: $ids, principals: $ps) }`,
		map[string]any{"ids": []string{deal}, "ps": []any{map[string]any{"type": "USER", "id": member}}}, &out)
	if out.RevokeRecordShares != 1 {
		t.Fatalf("revokeRecordShares removed %d shares, want 1", out.RevokeRecordShares)
	}
}

func TestInstances(t *testing.T) {
	one, two := inInstances(t)
	t.Run("a revoke is in force at once on the other instance", func(t *testing.T) {
		t.Parallel()
		inRevokeIsImmediate(t, inSetup(t, one, two, "revoke"))
	})
	t.Run("a new record reaches the owner's manager at once on the other instance", func(t *testing.T) {
		t.Parallel()
		inNewRecordReachesManager(t, inSetup(t, one, two, "create"))
	})
	t.Run("shares and revokes alternating between instances", func(t *testing.T) {
		t.Parallel()
		inAlternating(t, inSetup(t, one, two, "alternate"))
	})
}

func inRevokeIsImmediate(t *testing.T, w *inWorld) {
	deal := inCreateDeal(t, w.one, w.rep, "Shared deal")
	inShare(t, w.one, w.rep, deal, w.peerID)
	// Instance 2 has the grant warm in its cache.
	for range 2 {
		if listed, total, found, level := inDeals(t, w.two, w.peer, deal); !found || level != "READ_ONLY" || !slices.Contains(listed, deal) || total != 1 {
			t.Fatalf("before the revoke, on instance 2: listed %v total %d found %v level %s", listed, total, found, level)
		}
	}
	inRevoke(t, w.one, w.rep, deal, w.peerID)
	// The very next request on instance 2.
	if listed, total, found, _ := inDeals(t, w.two, w.peer, deal); found || len(listed) != 0 || total != 0 {
		t.Fatalf("after the revoke on instance 1, instance 2 still serves the share: listed %v total %d found %v", listed, total, found)
	}
	// Its explanation agrees.
	var out struct{ AccessExplanation exExplanation }
	w.two.Must(w.admin, `query($r: ID!, $m: ID!) { accessExplanation(module: DEALS, recordId: $r, memberId: $m) { `+exExplainFields+` } }`,
		map[string]any{"r": deal, "m": w.peerID}, &out)
	if e := out.AccessExplanation; e.Level != "NONE" || len(e.Grants) != 0 {
		t.Errorf("instance 2 explains the revoked share: %+v", e)
	}
}

func inNewRecordReachesManager(t *testing.T, w *inWorld) {
	old := inCreateDeal(t, w.one, w.rep, "Old deal")
	// Instance 2 has the org warm, with the old deal only.
	if listed, _, found, _ := inDeals(t, w.two, w.mgr, old); !found || !slices.Equal(listed, []string{old}) {
		t.Fatalf("manager on instance 2 before: listed %v found %v", listed, found)
	}
	deal := inCreateDeal(t, w.one, w.rep, "New deal")
	listed, total, found, level := inDeals(t, w.two, w.mgr, deal)
	if !found || level != "FULL_ACCESS" || !slices.Contains(listed, deal) || total != 2 {
		t.Fatalf("the rep's new deal on instance 2, for the manager: listed %v total %d found %v level %s", listed, total, found, level)
	}
	// Nobody else gains it.
	if _, _, found, _ := inDeals(t, w.two, w.peer, deal); found {
		t.Errorf("the peer sees the rep's private deal on instance 2")
	}
}

// inAlternating shares and revokes through one instance and reads through
// the other, at random, many times over: every read sees exactly the last
// change, whichever instance made it.
func inAlternating(t *testing.T, w *inWorld) {
	deal := inCreateDeal(t, w.one, w.rep, "Ping-pong deal")
	envs := []*apitest.Env{w.one, w.two}
	seed := rand.Int63()
	rng := rand.New(rand.NewSource(seed))
	shared := false
	for i := 0; i < 24; i++ {
		// Warm both caches, then change through one and read through the other.
		for _, e := range envs {
			inDeals(t, e, w.peer, deal)
		}
		writer := rng.Intn(2)
		if shared {
			inRevoke(t, envs[writer], w.rep, deal, w.peerID)
		} else {
			inShare(t, envs[writer], w.rep, deal, w.peerID)
		}
		shared = !shared
		_, _, found, _ := inDeals(t, envs[1-writer], w.peer, deal)
		if found != shared {
			t.Fatalf("seed %d, round %d: after a %s on instance %d, instance %d answers found=%v",
				seed, i, map[bool]string{true: "share", false: "revoke"}[shared], writer+1, 2-writer, found)
		}
	}
	t.Logf("seed %d: 24 changes, each seen at once by the other instance", seed)
}
