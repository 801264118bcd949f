package ratelimit

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"warden/db/dbtest"
)

// backends are the two places counters live: the shared Redis, and this
// process when Redis is unreachable (a client pointed at a closed port).
func backends(t *testing.T) map[string]redis.UniversalClient {
	t.Helper()
	opt, err := redis.ParseURL(dbtest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	live := redis.NewClient(opt)
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = live.Close(); _ = down.Close() })
	if err := live.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	return map[string]redis.UniversalClient{"redis": live, "redis down": down}
}

func TestLimiterAllowsTheBurstThenRefuses(t *testing.T) {
	for name, rdb := range backends(t) {
		t.Run(name, func(t *testing.T) {
			l := NewLimiter(rdb, dbtest.RedisPrefix())
			frozen := time.Now()
			l.local.now = func() time.Time { return frozen } // a slow refused dial must not refill the budget
			rate := Rate{PerMinute: 60, Burst: 5}
			ctx := context.Background()
			for i := range 5 {
				if d := l.Allow(ctx, "ip:1", rate); !d.Allowed {
					t.Fatalf("request %d of the burst refused", i+1)
				}
			}
			d := l.Allow(ctx, "ip:1", rate)
			if d.Allowed {
				t.Fatalf("the request after the burst was allowed")
			}
			if d.RetryAfter <= 0 || d.RetryAfter > 2*time.Second {
				t.Fatalf("retry after %v, want about one second (60 per minute)", d.RetryAfter)
			}
			if d := l.Allow(ctx, "ip:2", rate); !d.Allowed {
				t.Fatalf("another key shares the exhausted budget")
			}
			if d := l.Allow(ctx, "ip:1", Rate{}); !d.Allowed {
				t.Fatalf("an unlimited rate refused a request")
			}
		})
	}
}

// Two instances sharing Redis share one budget.
func TestLimiterBudgetIsSharedThroughRedis(t *testing.T) {
	rdb := backends(t)["redis"]
	prefix := dbtest.RedisPrefix()
	a, b := NewLimiter(rdb, prefix), NewLimiter(rdb, prefix)
	rate := Rate{PerMinute: 60, Burst: 4}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := a
			if i%2 == 1 {
				l = b
			}
			if l.Allow(context.Background(), "user:7", rate).Allowed {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 4 {
		t.Fatalf("%d of 16 concurrent requests on two instances allowed, want the burst of 4", allowed)
	}
}

func TestLoginThrottleBacksOffExponentially(t *testing.T) {
	for name, rdb := range backends(t) {
		t.Run(name, func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			clock := func() time.Time { return now }
			policy := LoginPolicy{FreeFailuresPerEmail: 3, FreeFailuresPerIP: 100, Base: time.Second, Max: 8 * time.Second, Window: time.Hour}
			th := NewLoginThrottle(rdb, dbtest.RedisPrefix(), policy, clock)
			ctx := context.Background()
			want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
			for i, w := range want {
				th.Failed(ctx, "Ada@Example.com", "10.0.0.1")
				if got := th.Wait(ctx, "ada@example.com", "10.0.0.9"); got != w {
					t.Fatalf("after failure %d: wait %v, want %v", i+1, got, w)
				}
			}
			if got := th.Wait(ctx, "bob@example.com", "10.0.0.9"); got != 0 {
				t.Fatalf("another email waits %v", got)
			}
			now = now.Add(9 * time.Second)
			if got := th.Wait(ctx, "ada@example.com", "10.0.0.1"); got != 0 {
				t.Fatalf("still waiting %v after the back-off passed", got)
			}
			th.Failed(ctx, "ada@example.com", "10.0.0.1")
			if got := th.Wait(ctx, "ada@example.com", "10.0.0.1"); got != 8*time.Second {
				t.Fatalf("a failure after the wait did not keep the capped back-off: %v", got)
			}
			now = now.Add(9 * time.Second)
			th.Succeeded(ctx, "ada@example.com")
			th.Failed(ctx, "ada@example.com", "10.0.0.1")
			if got := th.Wait(ctx, "ada@example.com", "10.0.0.1"); got != 0 {
				t.Fatalf("a success did not forget the email's failures: wait %v", got)
			}
		})
	}
}

func TestLoginThrottlePerIP(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	policy := LoginPolicy{FreeFailuresPerEmail: 100, FreeFailuresPerIP: 2, Base: time.Second, Max: time.Minute, Window: time.Hour}
	th := NewLoginThrottle(backends(t)["redis"], dbtest.RedisPrefix(), policy, func() time.Time { return now })
	ctx := context.Background()
	for _, email := range []string{"a@x.io", "b@x.io", "c@x.io"} {
		th.Failed(ctx, email, "192.0.2.7")
	}
	if got := th.Wait(ctx, "d@x.io", "192.0.2.7"); got != time.Second {
		t.Fatalf("guessing many emails from one address: wait %v, want 1s", got)
	}
	if got := th.Wait(ctx, "d@x.io", "192.0.2.8"); got != 0 {
		t.Fatalf("another address waits %v", got)
	}
}

func TestClientIP(t *testing.T) {
	trusted, err := ParsePrefixes("10.0.0.0/8, 192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, remote, xff, want string
	}{
		{"direct client", "198.51.100.4:5000", "", "198.51.100.4"},
		{"untrusted peer's header ignored", "198.51.100.4:5000", "203.0.113.9", "198.51.100.4"},
		{"trusted proxy", "10.1.2.3:80", "203.0.113.9", "203.0.113.9"},
		{"spoofed left-most entry", "10.1.2.3:80", "1.2.3.4, 203.0.113.9, 10.9.9.9", "203.0.113.9"},
		{"single trusted address", "192.0.2.1:80", "203.0.113.10", "203.0.113.10"},
		{"garbage header", "10.1.2.3:80", "not-an-ip", "10.1.2.3"},
		{"ipv6 peer", "[2001:db8::1]:443", "", "2001:db8::1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, "/graphql", nil)
			r.RemoteAddr = c.remote
			if c.xff != "" {
				r.Header.Set("X-Forwarded-For", c.xff)
			}
			if got := ClientIP(r, trusted); got != c.want {
				t.Fatalf("ClientIP = %q, want %q", got, c.want)
			}
		})
	}
	if _, err := ParsePrefixes("10.0.0.0/33"); err == nil {
		t.Fatalf("a bad CIDR was accepted")
	}
}
