// Package ratelimit throttles clients: requests per client IP and per user,
// and failed logins per email and per IP with exponential back-off.
//
// Counters live in Redis, so every Warden instance enforces one shared
// budget (request limits use GCRA through github.com/go-redis/redis_rate).
// When Redis cannot be reached each instance falls back to counters of its
// own: throttling weakens to per instance but never switches off, and
// requests keep being served.
package ratelimit
