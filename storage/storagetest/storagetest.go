// Package storagetest gives tests a fresh, migrated PostgreSQL database,
// dropped when the test ends, on the server KQI_DATABASE_URL names: the dev
// cluster's (`make test`) or a private throw-away one (`make test-unit`,
// scripts/unit-db.sh).
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

// databaseURL is the server the tests' databases are made on. Both tiers
// have one, so a missing URL fails the test, never skips it.
func databaseURL(t testing.TB) string {
	t.Helper()
	v := os.Getenv("KQI_DATABASE_URL")
	if v == "" {
		t.Fatal("KQI_DATABASE_URL is not set: run tests through `make test` (the dev cluster's PostgreSQL) or `make test-unit` (a private one)")
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
	base := databaseURL(t)
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
