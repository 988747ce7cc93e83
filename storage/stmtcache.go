package storage

import (
	"context"
	"database/sql/driver"
	"errors"

	"github.com/lib/pq"
)

// stmtCacheSize is how many prepared statements each connection keeps.
// The portal's distinct statements with parameters number in the low
// hundreds (list queries vary with their filters); one past the limit
// pushes out an arbitrary other, which is simply prepared again when next
// used.
const stmtCacheSize = 256

// cachingConnector hands out connections that prepare each statement with
// parameters once and run it by name afterwards, as pgx does by default.
// PostgreSQL then parses it once per connection and, after a few runs,
// keeps a generic plan: a submit's ten statements spent more time being
// parsed and planned than running. Statements without parameters (BEGIN,
// COMMIT, migrations with several statements) go as they are.
type cachingConnector struct{ inner driver.Connector }

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &cachingConn{Conn: conn, stmts: map[string]driver.Stmt{}}, nil
}

func (c cachingConnector) Driver() driver.Driver { return c.inner.Driver() }

// cachingConn wraps one lib/pq connection. database/sql uses a connection
// from one goroutine at a time, so the cache needs no lock.
type cachingConn struct {
	driver.Conn
	stmts map[string]driver.Stmt
}

// The optional interfaces database/sql looks for, passed on to lib/pq.
var (
	_ driver.QueryerContext     = (*cachingConn)(nil)
	_ driver.ExecerContext      = (*cachingConn)(nil)
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.ConnBeginTx        = (*cachingConn)(nil)
	_ driver.Pinger             = (*cachingConn)(nil)
	_ driver.SessionResetter    = (*cachingConn)(nil)
	_ driver.Validator          = (*cachingConn)(nil)
	_ driver.NamedValueChecker  = (*cachingConn)(nil)
)

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) == 0 {
		return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, nil)
	}
	var rows driver.Rows
	err := c.withStmt(ctx, query, func(st driver.Stmt) (err error) {
		rows, err = st.(driver.StmtQueryContext).QueryContext(ctx, args)
		return err
	})
	return rows, err
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 0 {
		return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, nil)
	}
	var res driver.Result
	err := c.withStmt(ctx, query, func(st driver.Stmt) (err error) {
		res, err = st.(driver.StmtExecContext).ExecContext(ctx, args)
		return err
	})
	return res, err
}

// withStmt runs fn with query's prepared statement. A statement whose
// plan went stale (a table it reads was altered since) is prepared again
// and fn tried once more: PostgreSQL refuses it before running anything.
func (c *cachingConn) withStmt(ctx context.Context, query string, fn func(driver.Stmt) error) error {
	for try := 0; ; try++ {
		st, err := c.stmt(ctx, query)
		if err != nil {
			return err
		}
		err = fn(st)
		var pqErr *pq.Error
		if try == 0 && errors.As(err, &pqErr) && pqErr.Code == "0A000" { // cached plan must not change result type
			c.drop(query)
			continue
		}
		return err
	}
}

func (c *cachingConn) stmt(ctx context.Context, query string) (driver.Stmt, error) {
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	if len(c.stmts) >= stmtCacheSize {
		for q := range c.stmts {
			c.drop(q)
			break
		}
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = st
	return st, nil
}

func (c *cachingConn) drop(query string) {
	if st, ok := c.stmts[query]; ok {
		st.Close()
		delete(c.stmts, query)
	}
}

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *cachingConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

func (c *cachingConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *cachingConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

func (c *cachingConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.Conn.(driver.NamedValueChecker).CheckNamedValue(nv)
}

// Close closes the connection; its statements go with it on the server.
func (c *cachingConn) Close() error {
	c.stmts = nil
	return c.Conn.Close()
}
