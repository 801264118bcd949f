package db

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/lib/pq"
)

func TestIsUnavailable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused", fmt.Errorf("check session: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"bad connection", fmt.Errorf("lock org: %w", driver.ErrBadConn), true},
		{"admin shutdown", &pq.Error{Code: "57P01"}, true},
		{"starting up", &pq.Error{Code: "57P03"}, true},
		{"connection failure", &pq.Error{Code: "08006"}, true},
		{"too many connections", &pq.Error{Code: "53300"}, true},
		{"unique violation", &pq.Error{Code: "23505"}, false},
		{"syntax error", &pq.Error{Code: "42601"}, false},
		{"not found", ErrNotFound, false},
		{"plain error", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsUnavailable(tt.err); got != tt.want {
				t.Errorf("IsUnavailable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestConnString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://postgres@127.0.0.1:5432/warden?sslmode=disable", "postgres://postgres@127.0.0.1:5432/warden?binary_parameters=yes&connect_timeout=3&sslmode=disable"},
		{"postgres://u@h/db?connect_timeout=10&binary_parameters=no", "postgres://u@h/db?binary_parameters=no&connect_timeout=10"},
		{"host=/tmp dbname=warden", "host=/tmp dbname=warden connect_timeout=3 binary_parameters=yes"},
		{"host=/tmp connect_timeout=1", "host=/tmp connect_timeout=1 binary_parameters=yes"},
	}
	for _, tt := range tests {
		if got := ConnString(tt.in); got != tt.want {
			t.Errorf("ConnString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
