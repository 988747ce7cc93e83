package storage_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"kqi/storage"
	"kqi/storage/storagetest"
)

// oneConn is one connection of a fresh store's pool, held for the test.
func oneConn(t *testing.T) *sql.Conn {
	t.Helper()
	st, _ := storagetest.NewStore(t)
	conn, err := st.DB().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func preparedCount(t *testing.T, conn *sql.Conn, query string) int {
	t.Helper()
	var n int
	// Without parameters: this query itself goes unprepared.
	if err := conn.QueryRowContext(context.Background(), fmt.Sprintf(
		`SELECT count(*) FROM pg_prepared_statements WHERE statement = %s`, quoteLiteral(query))).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func quoteLiteral(s string) string {
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += "'"
		}
		out += string(r)
	}
	return out + "'"
}

func TestStatementsArePreparedOncePerConnection(t *testing.T) {
	ctx := context.Background()
	conn := oneConn(t)
	const q = `SELECT $1::int + 1`
	for i := range 5 {
		var n int
		if err := conn.QueryRowContext(ctx, q, i).Scan(&n); err != nil || n != i+1 {
			t.Fatalf("run %d: %d, %v", i, n, err)
		}
	}
	if n := preparedCount(t, conn, q); n != 1 {
		t.Errorf("%q is prepared %d times on the connection after five runs, want once", q, n)
	}
	// Several statements in one string (as migrations are) go unprepared.
	if _, err := conn.ExecContext(ctx, `CREATE TABLE two_a (a int); CREATE TABLE two_b (b int)`); err != nil {
		t.Errorf("two statements without parameters: %v", err)
	}
}

func TestAStatementOfAnAlteredTableIsPreparedAgain(t *testing.T) {
	ctx := context.Background()
	conn := oneConn(t)
	if _, err := conn.ExecContext(ctx, `CREATE TABLE altered (a int); INSERT INTO altered VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	const q = `SELECT * FROM altered WHERE a = $1`
	columns := func() []string {
		t.Helper()
		rows, err := conn.QueryContext(ctx, q, 1)
		if err != nil {
			t.Fatalf("after the table changed: %v", err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		return cols
	}
	if got := columns(); len(got) != 1 {
		t.Fatalf("columns %v", got)
	}
	if _, err := conn.ExecContext(ctx, `ALTER TABLE altered ADD COLUMN b int DEFAULT 2`); err != nil {
		t.Fatal(err)
	}
	if got := columns(); len(got) != 2 {
		t.Errorf("columns after ALTER TABLE: %v, want a and b", got)
	}
}

func TestTheStatementCacheIsBounded(t *testing.T) {
	ctx := context.Background()
	conn := oneConn(t)
	for i := range storage.StmtCacheSize + 20 {
		var n int
		if err := conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT $1::int + %d`, i), 1).Scan(&n); err != nil || n != i+1 {
			t.Fatalf("statement %d: %d, %v", i, n, err)
		}
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM pg_prepared_statements`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n > storage.StmtCacheSize {
		t.Errorf("%d statements prepared on one connection, over the cache's %d", n, storage.StmtCacheSize)
	}
}
