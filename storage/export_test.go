package storage

import (
	"context"
	"database/sql"
)

// MigrateTo applies the migrations up to version, for tests of one
// migration on the data an earlier schema held.
func (s *Store) MigrateTo(ctx context.Context, version int) (int, error) {
	return s.migrateTo(ctx, version)
}

// Exec runs a statement, for tests that set up rows an earlier schema had.
func (s *Store) Exec(ctx context.Context, query string, args ...any) error {
	_, err := s.db.ExecContext(ctx, query, args...)
	return err
}

// DB is the store's pool, for tests of what its connections do.
func (s *Store) DB() *sql.DB { return s.db }

// StmtCacheSize is how many statements a connection keeps prepared.
const StmtCacheSize = stmtCacheSize
