// Package bench owns `warden bench`: it generates a large seeded org in bulk
// and measures secured requests against the administrator's through the
// real HTTP endpoint, writing the report to bench-results/.
package bench
