package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"kqi/portal/accounts"
	"kqi/portal/auth"
	"kqi/portal/config"
	"kqi/portal/refusal"
	"kqi/storage"
)

// createAdmin makes sure a system administrator exists and can log in, and
// prints how. Run again, it resets the password only when one is given, so
// it is safe in start-up scripts.
func createAdmin(ctx context.Context, cfg *config.Config, log *slog.Logger, getenv func(string) string, out io.Writer) error {
	username := getenv("KQI_ADMIN_USER")
	if username == "" {
		username = "admin"
	}
	password := getenv("KQI_ADMIN_PASSWORD")
	tenantName := getenv("KQI_ADMIN_TENANT")

	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()

	acc := accounts.Service{Store: st}
	generated := false
	u, err := st.UserByName(ctx, username)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if password == "" {
			password, generated = auth.NewSecret()[:20], true
		}
		u, err = acc.CreateUser(ctx, accounts.NewUser{Username: username, Password: password, IsSystemAdmin: true})
		if _, ok := refusal.Of(err); ok {
			return fmt.Errorf("cannot create %q: %w", username, err)
		}
		if err != nil {
			return err
		}
		log.Info("system administrator created", "user", username)
	case err != nil:
		return err
	case !u.IsSystemAdmin:
		return fmt.Errorf("user %q exists and is not a system administrator", username)
	case password != "" && auth.VerifyPassword(u, password):
		// Already this password: resetting would only end the
		// administrator's sessions for nothing.
	case password != "":
		hash, err := auth.HashPassword(password)
		if err != nil {
			return err
		}
		if err := st.SetPassword(ctx, u.ID, hash, nil); err != nil {
			return err
		}
		log.Info("system administrator password reset", "user", username)
	}

	if tenantName != "" {
		t, err := st.TenantByName(ctx, tenantName)
		if errors.Is(err, storage.ErrNotFound) {
			t, err = acc.CreateTenant(ctx, tenantName)
		}
		if err != nil {
			return fmt.Errorf("tenant %q: %w", tenantName, err)
		}
		if err := st.AddMembership(ctx, u.ID, t.ID, storage.RoleAdmin); err != nil {
			return err
		}
	}

	fmt.Fprintf(out, "KQI portal:  %s\n", cfg.BaseURL)
	fmt.Fprintf(out, "admin user:  %s\n", username)
	switch {
	case generated:
		fmt.Fprintf(out, "password:    %s   (generated; set KQI_ADMIN_PASSWORD to choose one)\n", password)
	case password != "":
		fmt.Fprintf(out, "password:    (the value of KQI_ADMIN_PASSWORD)\n")
	default:
		fmt.Fprintf(out, "password:    unchanged (the user already existed; set KQI_ADMIN_PASSWORD to reset it)\n")
	}
	if tenantName != "" {
		fmt.Fprintf(out, "tenant:      %s (admin is its tenant administrator)\n", tenantName)
	}
	return nil
}
