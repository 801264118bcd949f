package db

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/lib/pq"
)

// connectTimeoutSeconds bounds how long opening a connection may take when
// the database address does not answer at all (a host gone, packets
// dropped): requests then fail in seconds with a retryable error instead of
// hanging until the request timeout. A refused or restarting server fails
// at once anyway.
const connectTimeoutSeconds = "3"

// withConnectTimeout adds connect_timeout to a connection string that sets
// none; an explicit one is kept.
func withConnectTimeout(dsn string) string {
	if strings.Contains(dsn, "connect_timeout") {
		return dsn
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn
		}
		q := u.Query()
		q.Set("connect_timeout", connectTimeoutSeconds)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " connect_timeout=" + connectTimeoutSeconds
}

// IsUnavailable reports whether err says the database could not be reached
// or dropped the connection (down, restarting, shutting down, out of
// connections), rather than that the statement was wrong: the same request
// can succeed when retried shortly.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code.Class() {
		case "08": // connection exception
			return true
		case "57": // operator intervention: admin or crash shutdown, cannot connect now, query cancelled
			return true
		}
		return pqErr.Code == "53300" // too many connections
	}
	var netErr *net.OpError
	return errors.As(err, &netErr)
}
