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

// ConnString adds Warden's connection options to a connection string,
// keeping any the string sets itself:
//   - connect_timeout (connectTimeoutSeconds);
//   - binary_parameters=yes: lib/pq then sends a parameterized statement
//     in one round trip (Parse, Bind, Execute) instead of two (a Parse and
//     Describe first). []byte parameters go over in binary, so a statement
//     must not pass []byte where the server reads text or jsonb (binary
//     jsonb starts with a version byte): pass JSON as a string.
func ConnString(dsn string) string {
	opts := [][2]string{{"connect_timeout", connectTimeoutSeconds}, {"binary_parameters", "yes"}}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn
		}
		q := u.Query()
		for _, o := range opts {
			if !q.Has(o[0]) {
				q.Set(o[0], o[1])
			}
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	out := strings.TrimSpace(dsn)
	for _, o := range opts {
		if !strings.Contains(out, o[0]+"=") {
			out += " " + o[0] + "=" + o[1]
		}
	}
	return out
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
