package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"warden/access"
	"warden/db"
	"warden/ids"
)

// Q6: an access-changing mutation is sent to instance A as the
// administrator; the affected viewer then asks instance B for a deal whose
// visibility the change flips, until B's answer shows the change. Each
// trial measures the change and its reversal.

const (
	moveRoleMut     = `mutation($id: ID!, $parent: ID!) { moveRole(id: $id, parentId: $parent) { id } }`
	updateMemberMut = `mutation($id: ID!, $role: ID!) { updateMember(id: $id, input: {roleId: $role}) { id } }`
	createRuleMut   = `mutation($in: CreateSharingRuleInput!) { createSharingRule(input: $in) { id } }`
	deleteRuleMut   = `mutation($id: ID!) { deleteSharingRule(id: $id) }`
	shareMut        = `mutation($ids: [ID!]!, $shares: [RecordShareInput!]!) { shareRecords(module: DEALS, recordIds: $ids, shares: $shares) { recordId } }`
	revokeMut       = `mutation($ids: [ID!]!, $ps: [PrincipalInput!]!) { revokeRecordShares(module: DEALS, recordIds: $ids, principals: $ps) }`
	updateGroupMut  = `mutation($id: ID!, $members: [PrincipalInput!]!) { updateGroup(id: $id, input: {members: $members}) { id } }`
)

// change is one kind of access change with its reversal.
type change struct {
	kind    string
	viewer  *viewer // whose visibility of deal flips
	deal    int64
	forward func(ctx context.Context) (via string, err error)
	reverse func(ctx context.Context) (via string, err error)
}

// mutate sends a mutation to instance A as the administrator. When the API
// answers that the operation is not implemented yet, direct (if not nil)
// writes the same change as the API would, and the result says "direct".
func (e *env) mutate(ctx context.Context, query string, vars map[string]any, out any, direct func(ctx context.Context) error) (string, error) {
	resp, err := e.client.do(ctx, e.a.url, e.admin.Token, e.orgID, newReq(query, vars))
	if err != nil {
		return "", err
	}
	if err := resp.err(); err != nil {
		if direct != nil && strings.Contains(strings.ToLower(err.Error()), "not implemented") {
			if derr := direct(ctx); derr != nil {
				return "", fmt.Errorf("direct write after %v: %w", err, derr)
			}
			e.a.engine.Notify(e.gen.Org)
			return "direct", nil
		}
		return "", err
	}
	if out != nil {
		if err := json.Unmarshal(resp.Data, out); err != nil {
			return "", err
		}
	}
	return "api", nil
}

// directWrite runs fn and logs the security change in one transaction, as
// the API's mutations do.
func (e *env) directWrite(ctx context.Context, kind string, payload any, fn func(tx *sqlx.Tx) error) error {
	tx, err := e.conn.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := db.LockOrg(ctx, tx, e.gen.Org); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := db.LogSecurityChange(ctx, tx, e.gen.Org, kind, payload); err != nil {
		return err
	}
	return tx.Commit()
}

// sees asks instance B whether the viewer sees the deal.
func (e *env) sees(ctx context.Context, v *viewer, deal int64) (bool, time.Duration, error) {
	resp, err := e.client.do(ctx, e.b.url, v.Token, e.orgID, newReq(probeQuery, map[string]any{"id": ids.Encode(ids.Deal, deal)}))
	if err != nil {
		return false, 0, err
	}
	if err := resp.err(); err != nil {
		return false, 0, err
	}
	var dd dealData
	if err := json.Unmarshal(resp.Data, &dd); err != nil {
		return false, 0, err
	}
	return dd.Deal != nil, resp.Latency, nil
}

// changeSample is one measured change.
type changeSample struct {
	mutation time.Duration // the mutation's round trip on A
	visible  time.Duration // from the mutation's response to B's response showing the change
	total    time.Duration // from sending the mutation to B's response showing it
	polls    int           // requests to B until it showed the change (1: the first one did)
	via      string
}

// apply runs one direction of a change and polls B until the viewer's
// visibility of the deal is want.
func (e *env) apply(ctx context.Context, c *change, fn func(context.Context) (string, error), want bool) (changeSample, error) {
	t0 := time.Now()
	via, err := fn(ctx)
	t1 := time.Now()
	if err != nil {
		return changeSample{}, fmt.Errorf("%s: %w", c.kind, err)
	}
	s := changeSample{mutation: t1.Sub(t0), via: via}
	deadline := t1.Add(10 * time.Second)
	for {
		got, _, err := e.sees(ctx, c.viewer, c.deal)
		s.polls++
		if err != nil {
			return s, fmt.Errorf("%s: probe on B: %w", c.kind, err)
		}
		if got == want {
			now := time.Now()
			s.visible, s.total = now.Sub(t1), now.Sub(t0)
			return s, nil
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("%s: B still answers visible=%v for %s after 10 s", c.kind, got, ids.Encode(ids.Deal, c.deal))
		}
	}
}

// changes (Q6) runs Q6Trials trials of each kind of change.
func (e *env) changes(ctx context.Context, rep *report) error {
	kinds, err := e.changeFixtures(ctx, rep)
	if err != nil {
		return err
	}
	for _, c := range kinds {
		st := &changeStat{}
		gc0 := readGC()
		var vis, tot, mut, fwd, rev []time.Duration
		first := 0
		vias := map[string]bool{}
		for t := 0; t < e.spec.Q6Trials && ctx.Err() == nil; t++ {
			for _, dir := range []struct {
				fn   func(context.Context) (string, error)
				want bool
			}{{c.forward, true}, {c.reverse, false}} {
				s, err := e.apply(ctx, c, dir.fn, dir.want)
				if err != nil {
					st.Failures++
					rep.Errors++
					rep.note("Q6 %s: %v", c.kind, err)
					continue
				}
				vias[s.via] = true
				vis, tot, mut = append(vis, s.visible), append(tot, s.total), append(mut, s.mutation)
				if dir.want {
					fwd = append(fwd, s.visible)
				} else {
					rev = append(rev, s.visible)
				}
				if s.polls == 1 {
					first++
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		for v := range vias {
			if st.Via != "" {
				st.Via += "+"
			}
			st.Via += v
		}
		st.Viewer, st.Deal = c.viewer.Name, ids.Encode(ids.Deal, c.deal)
		st.Samples = len(vis)
		st.P50, st.P99, st.Max = round3(quantile(vis, 0.5)), round3(quantile(vis, 0.99)), round3(maxOf(vis))
		st.MutationP50, st.MutationP99 = round3(quantile(mut, 0.5)), round3(quantile(mut, 0.99))
		st.TotalP50, st.TotalP99 = round3(quantile(tot, 0.5)), round3(quantile(tot, 0.99))
		st.ForwardP99, st.ReverseP99 = round3(quantile(fwd, 0.99)), round3(quantile(rev, 0.99))
		if len(vis) > 0 {
			st.FirstPollFraction = round3(float64(first) / float64(len(vis)))
		}
		gc := readGC()
		st.GCCycles, st.GCCPUms = int(gc.cycles-gc0.cycles), round3(1000*(gc.cpuSeconds-gc0.cpuSeconds))
		rep.Q6[c.kind] = st
		e.logf("Q6 %-17s via %-6s: mutation p50 %.1f ms; visible on B p50 %.1f ms, p99 %.1f ms; total p99 %.1f ms; first poll %.0f%%; failures %d; GC cycles %d",
			c.kind, st.Via, st.MutationP50, st.P50, st.P99, st.TotalP99, 100*st.FirstPollFraction, st.Failures, st.GCCycles)
	}
	return nil
}

// changeFixtures picks, for each kind, the change, the affected viewer and
// a deal the viewer does not see before the change and sees after it.
func (e *env) changeFixtures(ctx context.Context, rep *report) ([]*change, error) {
	var out []*change
	mv, err := e.moveRoleFixture(ctx)
	if err != nil {
		return nil, err
	}
	out = append(out, mv)
	for _, f := range []func(context.Context) (*change, error){e.memberRoleFixture, e.ruleFixture, e.shareFixture, e.groupFixture} {
		c, err := f(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// tokenFor issues a token for a generated member (by index).
func (e *env) tokenFor(mi int) (*viewer, error) {
	m := e.gen.Members[mi]
	tok, err := e.signIn(m.User)
	if err != nil {
		return nil, err
	}
	return &viewer{Name: fmt.Sprintf("member %d", m.ID), Member: m.ID, User: m.User, Depth: e.gen.Roles[m.Role].Depth, Token: tok}, nil
}

// hiddenDeal is a deal owned by one of owners (nil: anyone but the viewer)
// that the viewer does not see now.
func (e *env) hiddenDeal(ctx context.Context, v int64, owners map[int32]bool) (int64, error) {
	vs, err := e.visibleSet(ctx, v)
	if err != nil {
		return 0, err
	}
	for k, id := range e.gen.DealIDs {
		o := e.gen.DealOwner[k]
		if owners != nil && !owners[o] || e.gen.Members[o].ID == v || e.gen.DealShared[id] {
			continue
		}
		if !vs.Contains(id) {
			return id, nil
		}
	}
	return 0, errors.New("no hidden deal")
}

func (e *env) membersOf(roles []int) map[int32]bool {
	out := map[int32]bool{}
	for _, ri := range roles {
		for _, mi := range e.gen.MembersByRole[ri] {
			out[int32(mi)] = true
		}
	}
	return out
}

// moveRoleFixture: the last role just above the leaves moves from its
// parent to another role of that level's parent depth; that role's manager
// then supervises the moved subtree.
func (e *env) moveRoleFixture(ctx context.Context) (*change, error) {
	g := e.gen
	level := g.rolesAt(e.spec.Depth - 2)
	r := level[len(level)-1]
	p1 := g.Roles[r].Parent
	var p2 = -1
	for _, ri := range g.rolesAt(e.spec.Depth - 3) {
		if ri != p1 && len(g.MembersByRole[ri]) > 0 && !contains(g.subtree(ri), r) {
			p2 = ri
			break
		}
	}
	if p2 < 0 {
		return nil, errors.New("bench: no target role for moveRole")
	}
	v, err := e.tokenFor(g.MembersByRole[p2][0])
	if err != nil {
		return nil, err
	}
	deal, err := e.hiddenDeal(ctx, v.Member, e.membersOf(g.subtree(r)))
	if err != nil {
		return nil, fmt.Errorf("bench: moveRole fixture: %w", err)
	}
	move := func(parent int) func(ctx context.Context) (string, error) {
		roleID, parentID := g.Roles[r].ID, g.Roles[parent].ID
		return func(ctx context.Context) (string, error) {
			return e.mutate(ctx, moveRoleMut, map[string]any{"id": ids.Encode(ids.Role, roleID), "parent": ids.Encode(ids.Role, parentID)}, nil,
				func(ctx context.Context) error {
					return e.directWrite(ctx, db.ChangeOrg, map[string]any{"action": "role.move", "targetType": "role", "targetId": roleID},
						func(tx *sqlx.Tx) error {
							_, err := db.SetRoleParent(ctx, tx, g.Org, roleID, parentID)
							return err
						})
				})
		}
	}
	return &change{kind: "moveRole", viewer: v, deal: deal, forward: move(p2), reverse: move(p1)}, nil
}

// memberRoleFixture: a rep of the last branch moves to the first leaf role;
// the manager above that leaf role then supervises the rep.
func (e *env) memberRoleFixture(ctx context.Context) (*change, error) {
	g := e.gen
	leaves := g.rolesAt(e.spec.Depth - 1)
	l2 := leaves[0]
	q := g.Roles[l2].Parent
	v, err := e.tokenFor(g.MembersByRole[q][0])
	if err != nil {
		return nil, err
	}
	probes := e.probeMembers()
	for i := len(g.Members) - 1; i > 0; i-- {
		m := g.Members[i]
		if probes[m.ID] || g.Roles[m.Role].Depth != e.spec.Depth-1 || g.ownedDeals[i] == 0 || m.Role == l2 {
			continue
		}
		deal, err := e.hiddenDeal(ctx, v.Member, map[int32]bool{int32(i): true})
		if err != nil {
			continue
		}
		set := func(role int) func(ctx context.Context) (string, error) {
			memberID, roleID := m.ID, g.Roles[role].ID
			return func(ctx context.Context) (string, error) {
				return e.mutate(ctx, updateMemberMut, map[string]any{"id": ids.Encode(ids.Member, memberID), "role": ids.Encode(ids.Role, roleID)}, nil,
					func(ctx context.Context) error {
						return e.directWrite(ctx, db.ChangeOrg, map[string]any{"action": "member.update", "targetType": "member", "targetId": memberID},
							func(tx *sqlx.Tx) error {
								_, err := tx.ExecContext(ctx, `UPDATE members SET role_id = $3 WHERE org_id = $1 AND id = $2`, g.Org, memberID, roleID)
								return err
							})
					})
			}
		}
		return &change{kind: "updateMember(role)", viewer: v, deal: deal, forward: set(l2), reverse: set(m.Role)}, nil
	}
	return nil, errors.New("bench: no member for updateMember")
}

// probeMembers are the probe viewers' member ids.
func (e *env) probeMembers() map[int64]bool {
	out := map[int64]bool{}
	for _, v := range e.viewers {
		out[v.Member] = true
	}
	return out
}

// reps lists leaf members that are not probe viewers and own deals.
func (e *env) reps() []int {
	probes := e.probeMembers()
	var out []int
	for i, m := range e.gen.Members {
		if i > 0 && !probes[m.ID] && e.gen.Roles[m.Role].Depth == e.spec.Depth-1 && e.gen.ownedDeals[i] > 0 {
			out = append(out, i)
		}
	}
	return out
}

// ruleFixture: an owner-based rule opens one rep's deals to another rep.
func (e *env) ruleFixture(ctx context.Context) (*change, error) {
	g := e.gen
	reps := e.reps()
	for k := len(reps) / 3; k < len(reps); k++ {
		src := reps[k]
		tgt := reps[(k+len(reps)/3)%len(reps)]
		if tgt == src {
			continue
		}
		v, err := e.tokenFor(tgt)
		if err != nil {
			return nil, err
		}
		deal, err := e.hiddenDeal(ctx, v.Member, map[int32]bool{int32(src): true})
		if err != nil {
			continue
		}
		srcID := g.Members[src].ID
		var ruleID string
		rule := access.SharingRule{Module: access.Deals, Name: "bench Q6 rule", Source: &access.Principal{Type: access.PrincipalUser, ID: srcID},
			Target: access.User(v.Member), Level: access.LevelReadOnly}
		forward := func(ctx context.Context) (string, error) {
			var out struct {
				CreateSharingRule struct{ ID string } `json:"createSharingRule"`
			}
			via, err := e.mutate(ctx, createRuleMut, map[string]any{"in": map[string]any{"module": "DEALS", "name": rule.Name,
				"source": map[string]any{"type": "USER", "id": ids.Encode(ids.Member, srcID)},
				"target": map[string]any{"type": "USER", "id": ids.Encode(ids.Member, v.Member)}, "access": "READ_ONLY"}}, &out,
				func(ctx context.Context) error {
					return e.directWrite(ctx, db.ChangeRules, map[string]any{"module": access.Deals}, func(tx *sqlx.Tx) error {
						id, err := db.InsertSharingRule(ctx, tx, g.Org, rule)
						out.CreateSharingRule.ID = ids.Encode(ids.Rule, id)
						return err
					})
				})
			ruleID = out.CreateSharingRule.ID
			return via, err
		}
		reverse := func(ctx context.Context) (string, error) {
			key, err := ids.Decode(ids.Rule, ruleID)
			if err != nil {
				return "", fmt.Errorf("rule id %q: %w", ruleID, err)
			}
			return e.mutate(ctx, deleteRuleMut, map[string]any{"id": ruleID}, nil, func(ctx context.Context) error {
				return e.directWrite(ctx, db.ChangeRules, map[string]any{"module": access.Deals}, func(tx *sqlx.Tx) error {
					return db.DeleteSharingRule(ctx, tx, g.Org, key)
				})
			})
		}
		return &change{kind: "createSharingRule", viewer: v, deal: deal, forward: forward, reverse: reverse}, nil
	}
	return nil, errors.New("bench: no pair of reps for createSharingRule")
}

// shareFixture: a deal is shared with a rep who does not see it.
func (e *env) shareFixture(ctx context.Context) (*change, error) {
	reps := e.reps()
	v, err := e.tokenFor(reps[len(reps)/2])
	if err != nil {
		return nil, err
	}
	deal, err := e.hiddenDeal(ctx, v.Member, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: share fixture: %w", err)
	}
	p := access.User(v.Member)
	pin := map[string]any{"type": "USER", "id": ids.Encode(ids.Member, v.Member)}
	dealIDs := []string{ids.Encode(ids.Deal, deal)}
	forward := func(ctx context.Context) (string, error) {
		return e.mutate(ctx, shareMut, map[string]any{"ids": dealIDs, "shares": []any{map[string]any{"principal": pin, "access": "READ_ONLY"}}}, nil,
			func(ctx context.Context) error {
				sh := access.Share{Module: access.Deals, RecordID: deal, Principal: p, Level: access.LevelReadOnly}
				return e.directWrite(ctx, db.ChangeShareAdd, db.ShareChange{Module: access.Deals, RecordID: deal, Principal: p, Level: access.LevelReadOnly},
					func(tx *sqlx.Tx) error {
						_, err := db.UpsertRecordShare(ctx, tx, e.gen.Org, sh, e.gen.Members[0].ID)
						return err
					})
			})
	}
	reverse := func(ctx context.Context) (string, error) {
		return e.mutate(ctx, revokeMut, map[string]any{"ids": dealIDs, "ps": []any{pin}}, nil, func(ctx context.Context) error {
			return e.directWrite(ctx, db.ChangeShareRemove, db.ShareChange{Module: access.Deals, RecordID: deal, Principal: p},
				func(tx *sqlx.Tx) error {
					_, err := db.DeleteRecordShare(ctx, tx, e.gen.Org, access.Deals, deal, p)
					return err
				})
		})
	}
	return &change{kind: "shareRecords", viewer: v, deal: deal, forward: forward, reverse: reverse}, nil
}

// groupFixture: a deal is shared (once, as set-up) with a nested group's
// parent group; adding a rep to the nested group lets the rep see it.
func (e *env) groupFixture(ctx context.Context) (*change, error) {
	g := e.gen
	var parent, child *genGroup
	for i := range g.Groups {
		if g.Groups[i].Level != 2 {
			continue
		}
		for _, p := range g.Groups[i].Members {
			if p.Type == access.PrincipalGroup {
				parent = &g.Groups[i]
				for j := range g.Groups {
					if g.Groups[j].ID == p.ID {
						child = &g.Groups[j]
					}
				}
				break
			}
		}
		if child != nil {
			break
		}
	}
	if child == nil {
		return nil, errors.New("bench: no nested group")
	}
	reps := e.reps()
	for k := len(reps) / 4; k < len(reps); k++ {
		v, err := e.tokenFor(reps[k])
		if err != nil {
			return nil, err
		}
		deal, err := e.hiddenDeal(ctx, v.Member, nil)
		if err != nil {
			continue
		}
		// Set-up, not measured: share the deal with the parent group.
		gp := map[string]any{"type": "GROUP", "id": ids.Encode(ids.Group, parent.ID)}
		sh := access.Share{Module: access.Deals, RecordID: deal, Principal: access.GroupPrincipal(parent.ID), Level: access.LevelReadOnly}
		if _, err := e.mutate(ctx, shareMut, map[string]any{"ids": []string{ids.Encode(ids.Deal, deal)},
			"shares": []any{map[string]any{"principal": gp, "access": "READ_ONLY"}}}, nil, func(ctx context.Context) error {
			return e.directWrite(ctx, db.ChangeShareAdd, db.ShareChange{Module: access.Deals, RecordID: deal, Principal: sh.Principal, Level: sh.Level},
				func(tx *sqlx.Tx) error {
					_, err := db.UpsertRecordShare(ctx, tx, g.Org, sh, g.Members[0].ID)
					return err
				})
		}); err != nil {
			return nil, fmt.Errorf("bench: group fixture set-up: %w", err)
		}
		vs, err := e.visibleSet(ctx, v.Member)
		if err != nil {
			return nil, err
		}
		if vs.Contains(deal) {
			continue // the rep is in the parent group already: try another
		}
		orig := append([]access.Principal(nil), child.Members...)
		with := append(append([]access.Principal(nil), orig...), access.User(v.Member))
		groupID := child.ID
		set := func(members []access.Principal) func(ctx context.Context) (string, error) {
			in := make([]any, len(members))
			for i, p := range members {
				in[i] = principalInput(p)
			}
			return func(ctx context.Context) (string, error) {
				return e.mutate(ctx, updateGroupMut, map[string]any{"id": ids.Encode(ids.Group, groupID), "members": in}, nil,
					func(ctx context.Context) error {
						return e.directWrite(ctx, db.ChangeOrg, map[string]any{"action": "group.update", "targetType": "group", "targetId": groupID},
							func(tx *sqlx.Tx) error {
								grp, err := db.GroupByID(ctx, tx, g.Org, groupID)
								if err != nil {
									return err
								}
								return db.UpdateGroup(ctx, tx, g.Org, groupID, grp.Name, grp.Description, members)
							})
					})
			}
		}
		return &change{kind: "updateGroup(nested)", viewer: v, deal: deal, forward: set(with), reverse: set(orig)}, nil
	}
	return nil, errors.New("bench: no rep for the group change")
}

func principalInput(p access.Principal) map[string]any {
	kind := ids.Member
	switch p.Type {
	case access.PrincipalRole, access.PrincipalRoleAndSubordinates:
		kind = ids.Role
	case access.PrincipalGroup:
		kind = ids.Group
	}
	return map[string]any{"type": p.Type.String(), "id": ids.Encode(kind, p.ID)}
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
