package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"kqi/portal/auth"
	"kqi/portal/config"
	"kqi/storage/storagetest"
)

func TestCreateAdmin(t *testing.T) {
	st, dbURL := storagetest.NewStore(t)
	ctx := context.Background()
	env := map[string]string{"KQI_DATABASE_URL": dbURL, "KQI_ADMIN_TENANT": "demo"}
	getenv := func(k string) string { return env[k] }
	cfg, err := config.Load("t", nil, getenv)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	run := func() string {
		t.Helper()
		var out bytes.Buffer
		if err := createAdmin(ctx, cfg, log, getenv, &out); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}

	// First run: a generated password that works, and the demo tenant.
	out := run()
	m := regexp.MustCompile(`password:\s+(\S+)\s+\(generated`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "admin user:  admin") || !strings.Contains(out, "tenant:      demo") {
		t.Fatalf("output:\n%s", out)
	}
	if _, err := auth.Login(ctx, st, "admin", m[1]); err != nil {
		t.Fatalf("the printed password does not log in: %v", err)
	}
	u, _ := st.UserByName(ctx, "admin")
	demo, _ := st.TenantByName(ctx, "demo")
	if ms, err := st.Membership(ctx, u.ID, demo.ID); err != nil || ms.Role != "admin" || !u.IsSystemAdmin {
		t.Fatalf("admin membership %+v %v", ms, err)
	}

	// Again without a password: nothing changes and it says so.
	if out := run(); !strings.Contains(out, "unchanged") {
		t.Fatalf("second run:\n%s", out)
	}
	if _, err := auth.Login(ctx, st, "admin", m[1]); err != nil {
		t.Fatalf("a re-run changed the password: %v", err)
	}

	// With KQI_ADMIN_PASSWORD: the password is reset to it.
	env["KQI_ADMIN_PASSWORD"] = "chosen-password-1"
	run()
	if _, err := auth.Login(ctx, st, "admin", "chosen-password-1"); err != nil {
		t.Fatalf("KQI_ADMIN_PASSWORD was not applied: %v", err)
	}
}

func TestMainRejectsBadConfigAndCommands(t *testing.T) {
	if code := Main([]string{"kqi-portal", "fly"}, func(string) string { return "" }); code != 2 {
		t.Errorf("unknown command exit %d", code)
	}
	if code := Main([]string{"kqi-portal", "migrate"}, func(string) string { return "" }); code != 2 {
		t.Errorf("missing KQI_DATABASE_URL exit %d", code)
	}
}
