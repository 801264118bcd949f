package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// LoginPolicy is how failed logins are throttled. After Free failures for a
// key (an email, or a client IP) each further failure makes the key wait
// Base, then twice as long, up to Max. Failures are forgotten Window after
// the last one; a successful login forgets the email's failures.
type LoginPolicy struct {
	FreeFailuresPerEmail int
	FreeFailuresPerIP    int
	Base                 time.Duration
	Max                  time.Duration
	Window               time.Duration
}

// DefaultLoginPolicy lets a person mistype a few times and makes guessing
// a password slow: the 20th wrong guess for one email waits 15 minutes.
var DefaultLoginPolicy = LoginPolicy{FreeFailuresPerEmail: 5, FreeFailuresPerIP: 30,
	Base: time.Second, Max: 15 * time.Minute, Window: time.Hour}

// LoginThrottle remembers failed logins per email and per client IP.
type LoginThrottle struct {
	rdb    redis.UniversalClient // nil: this process only
	prefix string
	policy LoginPolicy
	now    func() time.Time

	mu    sync.Mutex
	local map[string]*failures
}

type failures struct {
	n     int
	until time.Time
	last  time.Time
}

// NewLoginThrottle returns a throttle sharing its state through rdb.
func NewLoginThrottle(rdb redis.UniversalClient, prefix string, policy LoginPolicy, now func() time.Time) *LoginThrottle {
	if now == nil {
		now = time.Now
	}
	return &LoginThrottle{rdb: rdb, prefix: prefix, policy: policy, now: now, local: map[string]*failures{}}
}

// Wait returns how long the caller must wait before a login for email from
// ip may be tried; zero when it may be tried now.
func (t *LoginThrottle) Wait(ctx context.Context, email, ip string) time.Duration {
	if t == nil {
		return 0
	}
	now := t.now()
	var wait time.Duration
	for _, key := range t.keys(email, ip) {
		until := t.until(ctx, key)
		if d := until.Sub(now); d > wait {
			wait = d
		}
	}
	return wait
}

// Failed records a wrong password (or unknown email) for email from ip.
func (t *LoginThrottle) Failed(ctx context.Context, email, ip string) {
	if t == nil {
		return
	}
	keys := t.keys(email, ip)
	t.fail(ctx, keys[0], t.policy.FreeFailuresPerEmail)
	if len(keys) > 1 {
		t.fail(ctx, keys[1], t.policy.FreeFailuresPerIP)
	}
}

// Succeeded forgets the email's failures; the IP's stay, so one good
// account does not unlock guessing others from the same address.
func (t *LoginThrottle) Succeeded(ctx context.Context, email string) {
	if t == nil {
		return
	}
	key := t.keys(email, "")[0]
	if t.rdb != nil {
		if err := t.rdb.Del(ctx, key).Err(); err == nil {
			return
		}
	}
	t.mu.Lock()
	delete(t.local, key)
	t.mu.Unlock()
}

// keys hashes the email so that Redis holds no addresses.
func (t *LoginThrottle) keys(email, ip string) []string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	keys := []string{t.prefix + "login:email:" + hex.EncodeToString(sum[:16])}
	if ip != "" {
		keys = append(keys, t.prefix+"login:ip:"+ip)
	}
	return keys
}

// failScript counts a failure and, past the free ones, sets the time before
// which the next attempt is refused: Base * 2^(extra failures - 1), capped.
var failScript = redis.NewScript(`
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local free, base, cap = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local untilMs = 0
if n > free then
  local d = base * (2 ^ math.min(n - free - 1, 40))
  if d > cap then d = cap end
  untilMs = tonumber(ARGV[1]) + d
  redis.call('HSET', KEYS[1], 'until', untilMs)
end
redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[5]), untilMs - tonumber(ARGV[1])))
return untilMs
`)

func (t *LoginThrottle) fail(ctx context.Context, key string, free int) {
	now := t.now()
	if t.rdb != nil {
		err := failScript.Run(ctx, t.rdb, []string{key}, now.UnixMilli(), free,
			t.policy.Base.Milliseconds(), t.policy.Max.Milliseconds(), t.policy.Window.Milliseconds()).Err()
		if err == nil {
			return
		}
		slog.WarnContext(ctx, "login throttle: redis unavailable, counting in this process", "err", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.local[key]
	if f == nil || now.Sub(f.last) > t.policy.Window {
		f = &failures{}
		t.local[key] = f
	}
	f.n++
	f.last = now
	if f.n > free {
		d := t.policy.Base << min(f.n-free-1, 40)
		if d > t.policy.Max || d <= 0 {
			d = t.policy.Max
		}
		f.until = now.Add(d)
	}
	if len(t.local) > localMaxKeys {
		for k, v := range t.local {
			if now.Sub(v.last) > t.policy.Window && now.After(v.until) {
				delete(t.local, k)
			}
		}
	}
}

func (t *LoginThrottle) until(ctx context.Context, key string) time.Time {
	var until time.Time
	if t.rdb != nil {
		v, err := t.rdb.HGet(ctx, key, "until").Result()
		switch {
		case err == nil:
			if ms, perr := strconv.ParseInt(v, 10, 64); perr == nil {
				until = time.UnixMilli(ms)
			}
		case errors.Is(err, redis.Nil):
		default:
			slog.WarnContext(ctx, "login throttle: redis unavailable, counting in this process", "err", err)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.local[key]; f != nil && f.until.After(until) {
		until = f.until
	}
	return until
}
