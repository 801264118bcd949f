package dbtest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync"
	"sync/atomic"

	"github.com/lib/pq"
)

// Statements counts the statements sent through connections opened with
// the "postgres-counting" driver: tests use it to pin down how many queries
// a request costs (dataloader batching).
var Statements atomic.Int64

var registerOnce sync.Once

// CountingDriverName registers (once) and returns the name of a Postgres
// driver that counts every query and exec.
func CountingDriverName() string {
	registerOnce.Do(func() { sql.Register("postgres-counting", countingDriver{}) })
	return "postgres-counting"
}

type countingDriver struct{}

func (countingDriver) Open(name string) (driver.Conn, error) {
	c, err := pq.Driver{}.Open(name)
	if err != nil {
		return nil, err
	}
	return &countingConn{c}, nil
}

type countingConn struct{ driver.Conn }

type fullConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.QueryerContext
	driver.ExecerContext
	driver.Pinger
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(fullConn).BeginTx(ctx, opts)
}

func (c *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	Statements.Add(1)
	return c.Conn.(fullConn).QueryContext(ctx, q, args)
}

func (c *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	Statements.Add(1)
	return c.Conn.(fullConn).ExecContext(ctx, q, args)
}

func (c *countingConn) Ping(ctx context.Context) error { return c.Conn.(fullConn).Ping(ctx) }

func (c *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if chk, ok := c.Conn.(driver.NamedValueChecker); ok {
		return chk.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}
