package accounts

import (
	"context"

	"kqi/portal/auth"
	"kqi/portal/i18n"
	"kqi/portal/refusal"
	"kqi/storage"
)

// ChangePassword needs the current password, so a borrowed browser cannot
// lock its owner out. Every session and API token of the user ends but
// keepSession, the one the change is made from.
func (s *Service) ChangePassword(ctx context.Context, u *storage.User, keepSession, current, next, confirm string) error {
	switch {
	case !auth.VerifyPassword(u, current):
		return refusal.Invalidf("current_password", "settings.wrong_current_password")
	case next != confirm:
		return refusal.Invalidf("confirm_password", "settings.password_mismatch")
	}
	if key := passwordPolicy(next, u.Username); key != "" {
		return refusal.Invalidf("new_password", key)
	}
	hash, err := auth.HashPassword(next)
	if err != nil {
		return err
	}
	return s.Store.SetPassword(ctx, u.ID, hash, storage.SessionKey(keepSession))
}

// SetLanguage sets the language a user's pages are shown in.
func (s *Service) SetLanguage(ctx context.Context, userID int64, lang string) error {
	if !i18n.Supported(lang) {
		return refusal.Invalidf("lang", "settings.unknown_language")
	}
	return s.Store.SetLanguage(ctx, userID, lang)
}
