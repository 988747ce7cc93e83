// Package storagetest gives integration tests a fresh, migrated PostgreSQL
// database on the dev cluster, dropped when the test ends.
package storagetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"kqi/storage"
)

// RequireEnv returns the value of an environment variable the integration
// tests need, failing (never skipping) when it is missing: a missing dev
// cluster must turn CI red.
func RequireEnv(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: start the dev cluster (scripts/dev-cluster.sh up) and run tests through `make test`, which exports its settings", name)
	}
	return v
}

// NewStore creates an empty database, migrates it and returns a Store on it
// together with its URL.
func NewStore(t testing.TB) (*storage.Store, string) {
	t.Helper()
	st, dbURL := NewEmptyStore(t)
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return st, dbURL
}

// NewEmptyStore creates an empty, unmigrated database (for migration
// tests) and returns a Store on it together with its URL.
func NewEmptyStore(t testing.TB) (*storage.Store, string) {
	t.Helper()
	base := RequireEnv(t, "KQI_DATABASE_URL")
	ctx := context.Background()

	admin, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatalf("open %s: %v", storage.RedactURL(base), err)
	}
	defer admin.Close()
	buf := make([]byte, 6)
	rand.Read(buf)
	name := "kqi_test_" + hex.EncodeToString(buf)
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	u, _ := url.Parse(base)
	u.Path = "/" + name
	dbURL := u.String()

	st, err := storage.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() {
		st.Close()
		admin, err := sql.Open("postgres", base)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	})
	return st, dbURL
}
