package cache

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"warden/access"
	"warden/db"
)

// Redis is optional and never trusted for correctness: the version a request
// must see always comes from Postgres. Redis holds each org's serialized
// state (snapshot input and index) so a new or restarted instance warms an
// org without rebuilding it from every record, and carries change
// notifications so other instances catch up before their next request
// arrives rather than during it. With Redis down, both fall back to
// Postgres: slower, never less correct.

const (
	redisOpTimeout   = 250 * time.Millisecond
	redisBlobTimeout = 2 * time.Second
	// storeEvery is how far an org's state may run ahead of its Redis copy
	// before the copy is refreshed. Refreshing serializes the whole index
	// while the org's catch-ups wait (15 ms for 200,000 deals, about five
	// times that at M); replaying the changes costs a restoring instance
	// about 10 us each, once. So the copy is refreshed rarely.
	storeEvery = 4096
)

// Stats counts cache outcomes for /metrics.
type Stats struct {
	RedisHits, RedisMisses, RedisErrors, Builds, CatchUps atomic.Int64
	// RedisStale counts copies discarded because the database does not
	// know the history they were taken from.
	RedisStale atomic.Int64
	// VisibleHits counts visible sets reused rather than computed;
	// VisibleComputed those computed.
	VisibleHits, VisibleComputed atomic.Int64
	// OrgReloads counts catch-ups that read org data again (org-level
	// changes); FullReloads those of them that read all of it.
	OrgReloads, FullReloads atomic.Int64
}

type storedState struct {
	Version int64
	// Mark is db.VersionMark's mark of Version: a copy is used only by a
	// database whose change at Version has the same mark, so a database
	// restored from a backup never gets the state of its lost future.
	Mark  int64
	Org   []byte // access.OrgData as JSON
	Index []byte // access.Index binary
}

func (e *Engine) stateKey(orgID int64) string {
	return e.Prefix + "org:" + strconv.FormatInt(orgID, 10) + ":state"
}

func (e *Engine) channel() string { return e.Prefix + "security-changes" }

// loadShared restores an org's state from Redis; false when there is none
// or Redis cannot be reached.
func (e *Engine) loadShared(ctx context.Context, orgID int64) (*access.Snapshot, *access.Index, access.OrgData, bool) {
	var data access.OrgData
	if e.Redis == nil {
		return nil, nil, data, false
	}
	ctx, cancel := context.WithTimeout(ctx, redisBlobTimeout)
	defer cancel()
	blob, err := e.Redis.Get(ctx, e.stateKey(orgID)).Bytes()
	if errors.Is(err, redis.Nil) {
		e.Stats.RedisMisses.Add(1)
		return nil, nil, data, false
	}
	if err != nil {
		e.Stats.RedisErrors.Add(1)
		slog.Debug("redis: load org state", "org", orgID, "err", err)
		return nil, nil, data, false
	}
	var st storedState
	if err := gob.NewDecoder(bytes.NewReader(blob)).Decode(&st); err != nil {
		e.Stats.RedisErrors.Add(1)
		return nil, nil, data, false
	}
	current, mark, err := db.VersionMark(ctx, e.DB, orgID, st.Version)
	if err != nil {
		return nil, nil, data, false
	}
	if st.Version > current || mark != st.Mark {
		// Versions are committed before copies are stored, so this copy is
		// of another history: a restored database, or another deployment
		// sharing the prefix. Rebuild from Postgres.
		e.Stats.RedisStale.Add(1)
		slog.Warn("redis: discarding an org state copy this database does not know",
			"org", orgID, "copy_version", st.Version, "db_version", current)
		// Delete it, or the rule that a newer copy is never replaced would
		// keep it there and every instance would rebuild from Postgres.
		_ = e.Redis.Del(ctx, e.stateKey(orgID)).Err()
		return nil, nil, data, false
	}
	if err := json.Unmarshal(st.Org, &data); err != nil {
		e.Stats.RedisErrors.Add(1)
		return nil, nil, data, false
	}
	snap, err := access.NewSnapshot(data)
	if err != nil {
		e.Stats.RedisErrors.Add(1)
		return nil, nil, data, false
	}
	ix := access.NewIndex()
	if err := ix.UnmarshalBinary(st.Index); err != nil {
		e.Stats.RedisErrors.Add(1)
		return nil, nil, data, false
	}
	ix.SetVersion(st.Version)
	e.Stats.RedisHits.Add(1)
	return snap, ix, data, true
}

// storeShared saves an org's state to Redis in the background.
func (e *Engine) storeShared(orgID int64, data access.OrgData, ix *access.Index) {
	if e.Redis == nil {
		return
	}
	version := ix.Version()
	indexBytes, err := ix.MarshalBinary()
	if err != nil {
		return
	}
	orgJSON, err := json.Marshal(data)
	if err != nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), redisBlobTimeout)
		defer cancel()
		_, mark, err := db.VersionMark(ctx, e.DB, orgID, version)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(storedState{Version: version, Mark: mark, Org: orgJSON, Index: indexBytes}); err != nil {
			return
		}
		// Never replace a newer copy with an older one.
		err = e.Redis.Watch(ctx, func(tx *redis.Tx) error {
			if old, err := tx.Get(ctx, e.stateKey(orgID)).Bytes(); err == nil {
				var st storedState
				if gob.NewDecoder(bytes.NewReader(old)).Decode(&st) == nil && st.Version >= version {
					return nil
				}
			}
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, e.stateKey(orgID), buf.Bytes(), 24*time.Hour)
				return nil
			})
			return err
		}, e.stateKey(orgID))
		if err != nil {
			e.Stats.RedisErrors.Add(1)
		}
	}()
}

// Notify tells the other instances that an org's access changed, so they
// catch up before their next request for it. Best effort.
func (e *Engine) Notify(orgID int64) {
	if e.Redis == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), redisOpTimeout)
	defer cancel()
	if err := e.Redis.Publish(ctx, e.channel(), strconv.FormatInt(orgID, 10)).Err(); err != nil {
		e.Stats.RedisErrors.Add(1)
	}
}

// Listen catches up, in the background, every loaded org another instance
// reports a change of, until ctx ends. It resubscribes after Redis outages.
func (e *Engine) Listen(ctx context.Context) {
	if e.Redis == nil {
		return
	}
	for ctx.Err() == nil {
		sub := e.Redis.Subscribe(ctx, e.channel())
		for msg := range sub.Channel() {
			orgID, err := strconv.ParseInt(msg.Payload, 10, 64)
			if err != nil || !e.loaded(orgID) {
				continue
			}
			if err := e.catchUpNow(ctx, orgID); err != nil {
				slog.Debug("background catch-up", "org", orgID, "err", err)
			}
		}
		_ = sub.Close()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// catchUpNow replays the org's change log, told there is more of it. It
// asks for a version past the one it holds rather than reading the org's
// current version first: that round trip would only delay the catch-up
// that the next request for the org may be waiting for.
func (e *Engine) catchUpNow(ctx context.Context, orgID int64) error {
	p := e.state(orgID).current.Load()
	if p == nil {
		return nil
	}
	_, _, err := e.StateAt(ctx, orgID, p.version+1)
	return err
}

func (e *Engine) loaded(orgID int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.orgs[orgID]
	return st != nil && st.current.Load() != nil
}
