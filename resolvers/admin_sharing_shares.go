package resolvers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"warden/access"
	"warden/apperr"
	"warden/db"
	"warden/graph/model"
	"warden/ids"
	"warden/records"
)

// Record shares. Sharing and revoking need, on every record named, FULL_ACCESS
// and the profile's share permission on the module (access-model.md); a bulk
// call is all or nothing and names the first record that fails. Each share
// added or removed is one entry of the security change log, which the engine
// applies to its index; the audit log gets one entry per record changed,
// with its direct shares before and after.

// maxShareRecords is the most records one shareRecords or
// revokeRecordShares call may name.
const maxShareRecords = 500

// recordKeysIn decodes record ids of a module, in order and each once. A
// malformed id, or one of another module, is NOT_FOUND like a missing one.
func recordKeysIn(m access.Module, in []string) ([]int64, []string, error) {
	if len(in) == 0 {
		return nil, nil, apperr.NewBadInput("recordIds must name at least one record")
	}
	if len(in) > maxShareRecords {
		return nil, nil, apperr.NewBadInput("at most %d records may be named in one call, not %d", maxShareRecords, len(in))
	}
	kind := records.MetaOf(m).IDKind
	seen := make(map[int64]bool, len(in))
	keys := make([]int64, 0, len(in))
	pub := make([]string, 0, len(in))
	for _, id := range in {
		key, err := ids.Decode(kind, id)
		if err != nil {
			return nil, nil, recordErr(id, apperr.NewNotFound("no %s with id %s", m, id))
		}
		if !seen[key] {
			seen[key] = true
			keys = append(keys, key)
			pub = append(pub, id)
		}
	}
	return keys, pub, nil
}

// recordErr names the record an error is about, keeping its code.
func recordErr(id string, err error) error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return &apperr.Error{Code: ae.Code, Msg: id + ": " + ae.Msg, Err: err}
	}
	var re *access.RuleError
	if errors.As(err, &re) {
		return &apperr.Error{Code: re.Code, Msg: id + ": " + re.Msg, Err: err}
	}
	return err // internal: not for the client's eyes
}

// shareableRecords checks, in the order given, that each record exists and
// that the caller may share it: NOT_FOUND when absent or invisible, FORBIDDEN
// without FULL_ACCESS or the share permission. lsc is the locked scope and
// exists the records present under the transaction's lock.
func (r *Resolver) shareableRecords(lsc *scope, m access.Module, keys []int64, pub []string, exists map[int64]bool) error {
	for i, key := range keys {
		if !exists[key] {
			return recordErr(pub[i], apperr.NewNotFound("no %s with id %s", m, pub[i]))
		}
		if _, err := r.writableRecord(lsc, m, pub[i], access.PermShare); err != nil {
			return recordErr(pub[i], err)
		}
	}
	return nil
}

// shareWrite runs a change of record shares in one transaction:
//
//   - the records are locked first (db.LockRecordsForSharing), so nothing
//     else changes them or their shares until the commit;
//   - fn validates and writes against the engine's state at the version
//     current once they are locked, which holds every change of these
//     records, and returns the security changes to log;
//   - the org's security row is locked only at the end, after logging those
//     changes; a change of the org's structure (groups, roles, members,
//     rules) committed since that version makes the whole write start over,
//     so it never commits against a state that is no longer true. (Logging
//     takes no lock: the version is numbered at commit.)
//
// Holding the org's row for the last statement and the commit only, rather
// than for the whole validation, is what keeps the org's other writes from
// queuing behind it: the soak's record writes waited seconds behind shares
// that held it throughout.
func (r *Resolver) shareWrite(ctx context.Context, sc *scope, m access.Module, keys []int64,
	fn func(tx *sqlx.Tx, lsc *scope, exists map[int64]bool) (kind string, changes []any, err error)) error {
	return untilFresh(func() error {
		return r.adminWrite(ctx, func(tx *sqlx.Tx) error {
			exists, err := db.LockRecordsForSharing(ctx, tx, sc.org.Key, records.MetaOf(m).Table, keys)
			if err != nil {
				return err
			}
			base, err := db.CurrentVersion(ctx, tx, sc.org.Key)
			if err != nil {
				return err
			}
			snap, ix, err := r.Engine.StateAt(ctx, sc.org.Key, base)
			if err != nil {
				return err
			}
			kind, changes, err := fn(tx, sc.at(snap, ix), exists)
			if err != nil || len(changes) == 0 {
				return err
			}
			if err := db.LogSecurityChanges(ctx, tx, sc.org.Key, kind, changes); err != nil {
				return err
			}
			if stale, err := db.LockOrgUnchangedSince(ctx, tx, sc.org.Key, base); err != nil || stale {
				return cmp.Or(err, errStale)
			}
			return nil
		})
	})
}

// shareIn is one requested share, decoded.
type shareIn struct {
	p     access.Principal
	level access.Level
	incl  bool
}

// sharesIn decodes the requested shares against the locked state. Naming a
// principal twice with the same settings is naming it once; with different
// settings it is ambiguous and refused.
func (sc *scope) sharesIn(m access.Module, in []*model.RecordShareInput) ([]shareIn, error) {
	if len(in) == 0 {
		return nil, apperr.NewBadInput("shares must name at least one principal")
	}
	out := make([]shareIn, 0, len(in))
	byP := map[access.Principal]shareIn{}
	for _, s := range in {
		if s == nil {
			continue
		}
		p, err := sc.parsePrincipal(s.Principal)
		if err != nil {
			return nil, err
		}
		l, err := access.ParseLevel(string(s.Access))
		if err != nil || !access.ValidShareLevel(l) {
			return nil, apperr.NewBadInput("a record share grants READ_ONLY, READ_WRITE or FULL_ACCESS, not %q", string(s.Access))
		}
		si := shareIn{p: p, level: l, incl: s.IncludeRelated != nil && *s.IncludeRelated}
		if prev, ok := byP[p]; ok {
			if prev != si {
				return nil, apperr.NewBadInput("%s %s is named twice with different access", s.Principal.Type, s.Principal.ID)
			}
			continue
		}
		byP[p] = si
		out = append(out, si)
	}
	check := make([]access.Share, len(out))
	for i, si := range out {
		check[i] = access.Share{Module: m, Principal: si.p, Level: si.level, IncludeRelated: si.incl}
	}
	if err := sc.snap.ValidateShares(check); err != nil {
		return nil, err
	}
	return out, nil
}

// sharesByRecord groups share rows by record.
func sharesByRecord(rows []db.RecordShareRow) map[int64][]db.RecordShareRow {
	out := map[int64][]db.RecordShareRow{}
	for _, r := range rows {
		out[r.RecordID] = append(out[r.RecordID], r)
	}
	return out
}

func plainShares(rows []db.RecordShareRow) []access.Share {
	out := make([]access.Share, len(rows))
	for i, r := range rows {
		out[i] = r.Share
	}
	return out
}

// shareAudit is a record's direct shares as the audit log keeps them.
func (sc *scope) shareAudit(rows []db.RecordShareRow) []map[string]any {
	out := make([]map[string]any, 0, len(rows))
	for _, r := range rows {
		out = append(out, map[string]any{"principal": sc.principalOut(r.Principal), "access": r.Level.String(),
			"includeRelated": r.IncludeRelated})
	}
	return out
}

// shareLimitErr rewords a limit error of access.CheckShareLimits, which
// names the record by module and key, for the record's public id.
func shareLimitErr(m access.Module, key int64, pub string, err error) error {
	var re *access.RuleError
	if errors.As(err, &re) {
		msg := strings.TrimPrefix(re.Msg, fmt.Sprintf("%s %d ", m, key))
		return &apperr.Error{Code: re.Code, Msg: pub + ": " + msg, Err: err}
	}
	return recordErr(pub, err)
}

func (r *Resolver) shareRecords(ctx context.Context, module model.Module, recordIds []string, shares []*model.RecordShareInput) ([]*model.RecordShare, error) {
	sc, m, err := moduleScope(ctx, module, access.PermView)
	if err != nil {
		return nil, err
	}
	keys, pub, err := recordKeysIn(m, recordIds)
	if err != nil {
		return nil, err
	}
	var result []db.RecordShareRow
	var outScope *scope
	err = r.shareWrite(ctx, sc, m, keys, func(tx *sqlx.Tx, lsc *scope, exists map[int64]bool) (string, []any, error) {
		outScope = lsc
		adding, err := lsc.sharesIn(m, shares)
		if err != nil {
			return "", nil, err
		}
		rows, err := db.RecordSharesOf(ctx, tx, sc.org.Key, m, keys)
		if err != nil {
			return "", nil, err
		}
		existing := sharesByRecord(rows)
		// Record by record, in the order given, so that the error names the
		// first record that fails whatever the reason.
		for i, key := range keys {
			if err := r.shareableRecords(lsc, m, keys[i:i+1], pub[i:i+1], exists); err != nil {
				return "", nil, err
			}
			add := make([]access.Share, len(adding))
			for k, a := range adding {
				add[k] = access.Share{Module: m, RecordID: key, Principal: a.p, Level: a.level, IncludeRelated: a.incl}
			}
			if err := access.CheckShareLimits(plainShares(existing[key]), add); err != nil {
				return "", nil, shareLimitErr(m, key, pub[i], err)
			}
		}
		result = make([]db.RecordShareRow, 0, len(keys)*len(adding))
		var changes []any
		for _, key := range keys {
			before := existing[key]
			current := map[access.Principal]db.RecordShareRow{}
			for _, row := range before {
				current[row.Principal] = row
			}
			changed := false
			for _, a := range adding {
				sh := access.Share{Module: m, RecordID: key, Principal: a.p, Level: a.level, IncludeRelated: a.incl}
				if old, ok := current[a.p]; ok && old.Share == sh {
					result = append(result, old) // already shared so: nothing to change
					continue
				}
				row, err := db.UpsertRecordShare(ctx, tx, sc.org.Key, sh, sc.member.Key)
				if err != nil {
					return "", nil, err
				}
				changes = append(changes, db.ShareChange{Module: m, RecordID: key, Principal: a.p, Level: a.level, IncludeRelated: a.incl})
				current[a.p] = row
				result = append(result, row)
				changed = true
			}
			if !changed {
				continue
			}
			after := make([]db.RecordShareRow, 0, len(current))
			for _, row := range current {
				after = append(after, row)
			}
			sortShareRows(after)
			if err := audit(ctx, tx, sc, "record.share", string(records.MetaOf(m).IDKind), key,
				lsc.shareAudit(before), lsc.shareAudit(after)); err != nil {
				return "", nil, err
			}
		}
		return db.ChangeShareAdd, changes, nil
	})
	if err != nil {
		return nil, err
	}
	return r.recordSharesOut(ctx, outScope, result)
}

func sortShareRows(rows []db.RecordShareRow) {
	ps := make([]access.Principal, len(rows))
	byP := make(map[access.Principal]db.RecordShareRow, len(rows))
	for i, r := range rows {
		ps[i] = r.Principal
		byP[r.Principal] = r
	}
	db.SortPrincipals(ps)
	for i, p := range ps {
		rows[i] = byP[p]
	}
}

// recordSharesOut shapes share rows for the API, loading the sharers in one
// query.
func (r *Resolver) recordSharesOut(ctx context.Context, sc *scope, rows []db.RecordShareRow) ([]*model.RecordShare, error) {
	var sharers []int64
	for _, row := range rows {
		if row.SharedBy.Valid {
			sharers = append(sharers, row.SharedBy.Int64)
		}
	}
	members := map[int64]*db.Member{}
	if len(sharers) > 0 {
		var err error
		if members, err = db.MembersByIDs(ctx, r.DB, sc.org.Key, sharers); err != nil {
			return nil, err
		}
	}
	out := make([]*model.RecordShare, 0, len(rows))
	for _, row := range rows {
		rs := &model.RecordShare{Module: model.Module(row.Module), RecordID: ids.Encode(records.MetaOf(row.Module).IDKind, row.RecordID),
			Principal: sc.principalOut(row.Principal), Access: model.ShareAccess(row.Level.String()),
			IncludeRelated: row.IncludeRelated, CreatedAt: row.CreatedAt}
		if row.SharedBy.Valid {
			rs.SharedBy = members[row.SharedBy.Int64]
		}
		out = append(out, rs)
	}
	return out, nil
}

// principalKeyIn decodes a principal to revoke. Unlike parsePrincipal it
// does not require the principal to exist any more, so that a share left
// with a principal that was since removed can still be revoked; an id of
// another org simply matches no share of this org.
func principalKeyIn(in *model.PrincipalInput) (access.Principal, error) {
	if in == nil {
		return access.Principal{}, apperr.NewBadInput("principal is required")
	}
	t, err := access.ParsePrincipalType(string(in.Type))
	if err != nil {
		return access.Principal{}, apperr.NewBadInput("unknown principal type %q", in.Type)
	}
	kind := ids.Group
	switch t {
	case access.PrincipalUser:
		kind = ids.Member
	case access.PrincipalRole, access.PrincipalRoleAndSubordinates:
		kind = ids.Role
	}
	key, err := ids.Decode(kind, in.ID)
	if err != nil {
		return access.Principal{}, apperr.NewNotFound("no %s with id %s in this org", in.Type, in.ID)
	}
	return access.Principal{Type: t, ID: key}, nil
}

func (r *Resolver) revokeRecordShares(ctx context.Context, module model.Module, recordIds []string, principals []*model.PrincipalInput) (int, error) {
	sc, err := activeScope(ctx)
	if err != nil {
		return 0, err
	}
	m, err := moduleIn(module)
	if err != nil {
		return 0, err
	}
	if err := sc.requireModule(m, access.PermView); err != nil {
		return 0, err
	}
	keys, pub, err := recordKeysIn(m, recordIds)
	if err != nil {
		return 0, err
	}
	if len(principals) == 0 {
		return 0, apperr.NewBadInput("principals must name at least one principal")
	}
	seen := map[access.Principal]bool{}
	for _, pi := range principals {
		p, err := principalKeyIn(pi)
		if err != nil {
			return 0, err
		}
		seen[p] = true
	}
	removed := 0
	err = r.shareWrite(ctx, sc, m, keys, func(tx *sqlx.Tx, lsc *scope, exists map[int64]bool) (string, []any, error) {
		removed = 0 // a write that starts over counts again
		var changes []any
		if err := r.shareableRecords(lsc, m, keys, pub, exists); err != nil {
			return "", nil, err
		}
		rows, err := db.RecordSharesOf(ctx, tx, sc.org.Key, m, keys)
		if err != nil {
			return "", nil, err
		}
		existing := sharesByRecord(rows)
		for _, key := range keys {
			before := existing[key]
			var after []db.RecordShareRow
			for _, row := range before {
				if !seen[row.Principal] {
					after = append(after, row)
					continue
				}
				ok, err := db.DeleteRecordShare(ctx, tx, sc.org.Key, m, key, row.Principal)
				if err != nil {
					return "", nil, err
				}
				if !ok {
					continue
				}
				changes = append(changes, db.ShareChange{Module: m, RecordID: key,
					Principal: row.Principal, Level: row.Level, IncludeRelated: row.IncludeRelated})
				removed++
			}
			if len(after) == len(before) {
				continue
			}
			if err := audit(ctx, tx, sc, "record.unshare", string(records.MetaOf(m).IDKind), key,
				lsc.shareAudit(before), lsc.shareAudit(after)); err != nil {
				return "", nil, err
			}
		}
		return db.ChangeShareRemove, changes, nil
	})
	if err != nil {
		return 0, err
	}
	return removed, nil
}

func (r *Resolver) recordShares(ctx context.Context, module model.Module, recordID string) ([]*model.RecordShare, error) {
	sc, m, err := moduleScope(ctx, module, access.PermView)
	if err != nil {
		return nil, err
	}
	key, err := ids.Decode(records.MetaOf(m).IDKind, recordID)
	notFound := apperr.NewNotFound("no %s with id %s", m, recordID)
	if err != nil {
		return nil, notFound
	}
	// The index knows every record of the org: one absent from it does not
	// exist, whatever the viewer's visible set (All for an administrator).
	if _, ok := sc.index.Facts(m, key); !ok || !sc.recordVisible(m, key) {
		return nil, notFound
	}
	if e := sc.explain(m, key); e.Level != access.LevelFullAccess {
		return nil, apperr.NewForbidden("the shares of %s %s are shown to viewers with FULL_ACCESS on it; yours is %s", m, recordID, e.Level)
	}
	rows, err := db.RecordSharesOf(ctx, r.DB, sc.org.Key, m, []int64{key})
	if err != nil {
		return nil, err
	}
	return r.recordSharesOut(ctx, sc, rows)
}
