// Package accounts holds the rules for tenants, users, memberships and a
// user's own settings, and for the Git servers and registries users keep
// tokens for, that the pages, the API and the bootstrap command share.
package accounts

import (
	"kqi/portal/refusal"
	"kqi/storage"
	"kqi/storage/files"
)

// Service holds the rules of tenants, users and memberships.
type Service struct {
	Store *storage.Store
	// Files is the file store, where a deleted tenant's directory goes;
	// nil: none to clean.
	Files files.FS
}

// taken refuses a name already in use: a conflict, tied to its field so a
// form can show it there.
func taken(field, key string) error {
	return &refusal.Error{Kind: refusal.Conflict, Fields: []refusal.Field{{Field: field, Key: key}}}
}
