package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Rate is a budget of requests per minute with a burst; a zero PerMinute
// means unlimited.
type Rate struct {
	PerMinute int
	Burst     int
}

// Unlimited reports whether the rate lets everything through.
func (r Rate) Unlimited() bool { return r.PerMinute <= 0 }

func (r Rate) limit() redis_rate.Limit {
	burst := r.Burst
	if burst <= 0 {
		burst = max(1, r.PerMinute/6) // ten seconds' worth
	}
	return redis_rate.Limit{Rate: r.PerMinute, Burst: burst, Period: time.Minute}
}

// Decision is the answer to one request.
type Decision struct {
	Allowed    bool
	RetryAfter time.Duration // when refused: how long until a request may pass
}

// Limiter enforces rates by key.
type Limiter struct {
	redis  *redis_rate.Limiter // nil: local counters only
	prefix string
	local  *localGCRA
	// downUntil: after a Redis failure, count locally for a while rather
	// than make every request wait for a connection that is not there.
	downUntil atomic.Int64
}

// redisRetryAfter is how long a Redis failure sends counting local.
const redisRetryAfter = 5 * time.Second

// NewLimiter returns a limiter sharing its counters through rdb (nil: this
// process only). prefix separates deployments sharing one Redis.
func NewLimiter(rdb redis.UniversalClient, prefix string) *Limiter {
	l := &Limiter{prefix: prefix, local: newLocalGCRA(time.Now)}
	if rdb != nil {
		l.redis = redis_rate.NewLimiter(rdb)
	}
	return l
}

// Allow takes one request from key's budget.
func (l *Limiter) Allow(ctx context.Context, key string, rate Rate) Decision {
	if rate.Unlimited() {
		return Decision{Allowed: true}
	}
	if l.redis != nil && l.local.now().UnixNano() >= l.downUntil.Load() {
		res, err := l.redis.Allow(ctx, l.prefix+key, rate.limit())
		if err == nil {
			return Decision{Allowed: res.Allowed > 0, RetryAfter: max(res.RetryAfter, 0)}
		}
		l.downUntil.Store(l.local.now().Add(redisRetryAfter).UnixNano())
		slog.WarnContext(ctx, "rate limit: redis unavailable, counting in this process", "err", err)
	}
	return l.local.allow(key, rate.limit())
}

// localGCRA is the in-process fallback: the same generic cell rate
// algorithm as the Redis script, one theoretical arrival time per key.
type localGCRA struct {
	mu   sync.Mutex
	now  func() time.Time
	tat  map[string]time.Time
	seen int
}

func newLocalGCRA(now func() time.Time) *localGCRA {
	return &localGCRA{now: now, tat: map[string]time.Time{}}
}

const localMaxKeys = 100_000

func (g *localGCRA) allow(key string, lim redis_rate.Limit) Decision {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	interval := lim.Period / time.Duration(lim.Rate)
	tolerance := interval * time.Duration(lim.Burst)
	tat := g.tat[key]
	if tat.Before(now) {
		tat = now
	}
	newTAT := tat.Add(interval)
	if allowAt := newTAT.Add(-tolerance); allowAt.After(now) {
		return Decision{Allowed: false, RetryAfter: allowAt.Sub(now)}
	}
	g.tat[key] = newTAT
	g.seen++
	if g.seen%1024 == 0 && len(g.tat) > localMaxKeys {
		for k, t := range g.tat {
			if t.Before(now) {
				delete(g.tat, k)
			}
		}
	}
	return Decision{Allowed: true}
}
