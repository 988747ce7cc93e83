// Package storage keeps KQI's state in PostgreSQL: plain SQL through lib/pq,
// one file per entity, and embedded numbered migrations.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
)

// ErrNotFound is returned by single-row lookups when no row matches,
// including rows that exist but belong to another tenant.
var ErrNotFound = errors.New("storage: not found")

// ErrConflict is returned when a unique name is already taken.
var ErrConflict = errors.New("storage: already exists")

// Store is the database handle every entity method hangs off.
type Store struct {
	db *sql.DB
	// instance is InstanceID once read: it never changes.
	instance atomic.Pointer[string]
}

// Open connects to PostgreSQL and checks the connection.
func Open(ctx context.Context, url string) (*Store, error) {
	url = oneRoundTrip(url)
	conn, err := pq.NewConnector(url)
	if err != nil {
		return nil, fmt.Errorf("storage: open: %w", hideURL(err, url))
	}
	db := sql.OpenDB(cachingConnector{conn})
	db.SetMaxOpenConns(20)
	// As many idle as open: a burst of requests would otherwise close and
	// reopen connections (68 new ones per 200 submits at 10 clients).
	db.SetMaxIdleConns(20)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, hideURL(err, url)
	}
	return s, nil
}

// oneRoundTrip turns on lib/pq's binary_parameters unless the URL sets it:
// a statement with parameters is then sent in one round trip (parse, bind
// and execute together) instead of two (a submit made 36 round trips).
// []byte parameters go as binary, so they must be bytea: JSON is passed
// as a string.
func oneRoundTrip(url string) string {
	if strings.Contains(url, "binary_parameters") {
		return url
	}
	if u, err := neturl.Parse(url); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("binary_parameters", "yes")
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(url) + " binary_parameters=yes"
}

// hideURL keeps the password out of an error that quotes the connection
// URL, as lib/pq's parse errors do: start-up errors end up in logs.
func hideURL(err error, raw string) error {
	if raw == "" || !strings.Contains(err.Error(), raw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), raw, RedactURL(raw)))
}

// RedactURL is a connection URL fit for a log: its password replaced, or
// nothing of it when it cannot be parsed.
func RedactURL(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// Close releases the connection pool.
func (s *Store) Close() error { return s.db.Close() }

// Ping reports whether the database answers within a few seconds.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("storage: ping: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction, rolling back on error.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("storage: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("storage: commit: %w", err)
	}
	return nil
}
