package storage

import (
	"database/sql/driver"
	"errors"
	"net"
	"strings"

	"github.com/lib/pq"
)

func pqCode(err error) pq.ErrorCode {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return pqErr.Code
	}
	return ""
}

func isUniqueViolation(err error) bool { return pqCode(err) == "23505" }
func isUndefinedTable(err error) bool  { return pqCode(err) == "42P01" }

// Unreachable reports whether err means the database could not be talked
// to (refused or broken connection, a server shutting down or starting):
// a passing outage to answer with 503, not a bug to answer with 500.
func Unreachable(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) || errors.Is(err, driver.ErrBadConn) {
		return true
	}
	code := string(pqCode(err))
	// Classes 08 (connection exception) and 57 (operator intervention:
	// shutting down, starting up). Class() panics on an empty code.
	return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "57")
}
