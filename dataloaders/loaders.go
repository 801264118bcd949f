package dataloaders

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/vikstrous/dataloadgen"

	"warden/access"
	"warden/db"
	"warden/records"
)

// Loaders batch the lookups of one request in one org. A request that reads
// several orgs has one Loaders per org, so a key of one org never reaches
// another org's query.
type Loaders struct {
	Members *dataloadgen.Loader[int64, *db.Member]
	Records map[access.Module]*dataloadgen.Loader[int64, records.Record]

	conn  *sqlx.DB
	orgID int64
}

// wait is how long a loader gathers keys before it queries; resolvers of one
// page of results arrive well within it.
const wait = 500 * time.Microsecond

// New returns the loaders of one org for one request.
func New(conn *sqlx.DB, orgID int64) *Loaders {
	l := &Loaders{Records: map[access.Module]*dataloadgen.Loader[int64, records.Record]{}, conn: conn, orgID: orgID}
	l.Members = dataloadgen.NewMappedLoader(func(ctx context.Context, keys []int64) (map[int64]*db.Member, error) {
		return db.MembersByIDs(ctx, conn, orgID, keys)
	}, dataloadgen.WithWait(wait))
	for _, m := range records.AllModules {
		meta := records.MetaOf(m)
		l.Records[m] = dataloadgen.NewMappedLoader(func(ctx context.Context, keys []int64) (map[int64]records.Record, error) {
			return db.GetRecords(ctx, conn, orgID, meta, keys)
		}, dataloadgen.WithWait(wait))
	}
	return l
}

// Member loads one member of the org; nil when it does not exist.
func (l *Loaders) Member(ctx context.Context, id int64) (*db.Member, error) {
	m, err := l.Members.Load(ctx, id)
	if err != nil && isMissing(err) {
		return nil, nil
	}
	return m, err
}

// Record loads one record of the org; nil when it does not exist.
func (l *Loaders) Record(ctx context.Context, module access.Module, id int64) (records.Record, error) {
	ld := l.Records[module]
	if ld == nil {
		return nil, nil
	}
	r, err := ld.Load(ctx, id)
	if err != nil && isMissing(err) {
		return nil, nil
	}
	return r, err
}

func isMissing(err error) bool { return errors.Is(err, dataloadgen.ErrNotFound) }

// PrefetchMembers reads the members of keys in one query, now, and primes
// the loader with them (a missing one as nil, which Member answers for it
// anyway); a key the loader already holds keeps its entry. A list that
// knows all its keys up front uses it instead of LoadAll, which first waits
// for more keys to gather and fetches on a goroutine of its own.
func (l *Loaders) PrefetchMembers(ctx context.Context, keys []int64) error {
	keys = distinct(keys)
	if len(keys) == 0 {
		return nil
	}
	found, err := db.MembersByIDs(ctx, l.conn, l.orgID, keys)
	if err != nil {
		return err
	}
	for _, k := range keys {
		l.Members.Prime(k, found[k])
	}
	return nil
}

// PrefetchRecords is PrefetchMembers for records of module m.
func (l *Loaders) PrefetchRecords(ctx context.Context, m access.Module, keys []int64) error {
	ld := l.Records[m]
	keys = distinct(keys)
	if ld == nil || len(keys) == 0 {
		return nil
	}
	found, err := db.GetRecords(ctx, l.conn, l.orgID, records.MetaOf(m), keys)
	if err != nil {
		return err
	}
	for _, k := range keys {
		ld.Prime(k, found[k]) // nil when missing, as Record answers
	}
	return nil
}

func distinct(keys []int64) []int64 {
	out := slices.Clone(keys)
	slices.Sort(out)
	return slices.Compact(out)
}
