package storage

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateLockID serialises concurrent migrators (two portals starting at once).
const migrateLockID = 0x6b7169 // "kqi"

type migration struct {
	version int
	name    string
	sql     string
}

// migrations lists the embedded files named NNNN_name.sql in version order.
// Versions must be consecutive from 1: a gap means a file was lost.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("storage: migration %q is not named NNNN_name.sql", e.Name())
		}
		body, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("storage: migration %s: expected version %d", m.name, i+1)
		}
	}
	return out, nil
}

// LatestSchemaVersion is the version the embedded migrations lead to.
func LatestSchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		return -1
	}
	return len(ms)
}

// SchemaVersion reports the version the database is at (0 when empty).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	if err != nil {
		if isUndefinedTable(err) || err == sql.ErrNoRows {
			return 0, nil
		}
		return 0, fmt.Errorf("storage: schema version: %w", err)
	}
	return v, nil
}

// Migrate applies every pending migration, each in its own transaction
// together with the version bump, so a failure leaves the schema at the last
// good version.
func (s *Store) Migrate(ctx context.Context) (applied int, err error) {
	return s.migrateTo(ctx, LatestSchemaVersion())
}

// migrateTo applies the pending migrations up to version.
func (s *Store) migrateTo(ctx context.Context, version int) (applied int, err error) {
	ms, err := migrations()
	if err != nil {
		return 0, err
	}
	ms = ms[:min(version, len(ms))]
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("storage: migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrateLockID); err != nil {
		return 0, fmt.Errorf("storage: migrate lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLockID)

	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return 0, fmt.Errorf("storage: migrate: %w", err)
	}
	var current int
	err = conn.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&current)
	if err == sql.ErrNoRows {
		if _, err := conn.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return 0, fmt.Errorf("storage: migrate: %w", err)
		}
	} else if err != nil {
		return 0, fmt.Errorf("storage: migrate: %w", err)
	}
	if current > len(ms) {
		return 0, fmt.Errorf("storage: database schema version %d is newer than this binary (%d)", current, len(ms))
	}
	for _, m := range ms[current:] {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return applied, fmt.Errorf("storage: migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return applied, fmt.Errorf("storage: migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = $1`, m.version); err != nil {
			tx.Rollback()
			return applied, fmt.Errorf("storage: migration %s: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return applied, fmt.Errorf("storage: migration %s: %w", m.name, err)
		}
		applied++
	}
	return applied, nil
}
