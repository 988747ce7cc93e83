package data_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"kqi/portal/data"
	"kqi/storage"
	"kqi/storage/files"
	"kqi/storage/storagetest"
)

// newService is a data service on a fresh database and a local store in a
// temporary directory, with one tenant.
func newService(tb testing.TB) (*data.Service, *storage.Tenant) {
	tb.Helper()
	st, _ := storagetest.NewStore(tb)
	fs, err := files.NewLocal(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { fs.Close() })
	tenant, err := st.CreateTenant(context.Background(), "lab")
	if err != nil {
		tb.Fatal(err)
	}
	return &data.Service{Store: st, Files: fs, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, tenant
}
