package storage

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// Leader holds a PostgreSQL advisory lock on a dedicated connection, so
// that among several portals exactly one runs a singleton task (the job
// poller). If the connection drops, the lock is gone and TryLead tries
// again on a new one.
type Leader struct {
	db   *sql.DB
	key  int64
	mu   sync.Mutex
	conn *sql.Conn
}

// Leader returns a leader election for key.
func (s *Store) Leader(key int64) *Leader { return &Leader{db: s.db, key: key} }

// TryLead reports whether this process holds the lock, taking it if free.
func (l *Leader) TryLead(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		if err := l.conn.PingContext(ctx); err == nil {
			return true, nil
		}
		l.conn.Close()
		l.conn = nil
	}
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("storage: leader: %w", err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&got); err != nil {
		conn.Close()
		return false, fmt.Errorf("storage: leader: %w", err)
	}
	if !got {
		conn.Close()
		return false, nil
	}
	l.conn = conn
	return true, nil
}

// Release gives the lock up.
func (l *Leader) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		l.conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, l.key)
		l.conn.Close()
		l.conn = nil
	}
}
