package storage

import (
	"errors"

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
