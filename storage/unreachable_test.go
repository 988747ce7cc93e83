package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/lib/pq"
)

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	db, err := sql.Open("postgres", "postgres://kqi@"+addr+"/kqi?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	refused := db.PingContext(context.Background())
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", fmt.Errorf("storage: job: %w", refused), true},
		{"shutting down", &pq.Error{Code: "57P01"}, true},
		{"connection failure", &pq.Error{Code: "08006"}, true},
		{"syntax error", &pq.Error{Code: "42601"}, false},
		{"not found", ErrNotFound, false},
		{"other", errors.New("boom"), false},
	} {
		if got := Unreachable(tc.err); got != tc.want {
			t.Errorf("%s (%v): Unreachable = %v", tc.name, tc.err, got)
		}
	}
}
