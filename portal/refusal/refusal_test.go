package refusal

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"kqi/storage"
	"kqi/storage/files"
)

func TestOfAndStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		ok     bool
		status int
		key    string
	}{
		{"invalid", Invalidf("name", "data.name_required"), true, http.StatusUnprocessableEntity, "data.name_required"},
		{"wrapped", fmt.Errorf("saving: %w", Conflictf("data.frozen")), true, http.StatusConflict, "data.frozen"},
		{"missing", Missing(), true, http.StatusNotFound, "error.not_found"},
		{"storage not found", fmt.Errorf("lookup: %w", storage.ErrNotFound), true, http.StatusNotFound, "error.not_found"},
		{"collected", func() error { var f Fields; f.Add("a", "k1"); f.Add("b", "k2", "x"); return f.Err() }(), true, http.StatusUnprocessableEntity, "k1"},
		{"full file store", fmt.Errorf("put: %w", files.ErrNoSpace), true, http.StatusInsufficientStorage, "error.store_full"},
		{"server error", errors.New("disk on fire"), false, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := Of(tc.err)
			if ok != tc.ok {
				t.Fatalf("Of ok = %v", ok)
			}
			if !ok {
				return
			}
			if key, _ := e.Key(); e.HTTPStatus() != tc.status || key != tc.key {
				t.Fatalf("status %d key %q, want %d %q", e.HTTPStatus(), key, tc.status, tc.key)
			}
		})
	}
	if err := (Fields{}).Err(); err != nil {
		t.Fatalf("no reasons, yet %v", err)
	}
	if !errors.Is(Missing(), storage.ErrNotFound) {
		t.Fatal("a not-found refusal is not storage.ErrNotFound")
	}
}
