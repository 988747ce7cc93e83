package cli

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"

	"kqi/portal/config"
)

func TestWarnOpenSharedRoot(t *testing.T) {
	for mode, warns := range map[os.FileMode]bool{0o700: false, 0o750: false, 0o755: true, 0o777: true} {
		dir := t.TempDir()
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		warnOpenSharedRoot(&config.Config{FileStore: "local", SharedRoot: dir}, slog.New(slog.NewTextHandler(&buf, nil)))
		if got := strings.Contains(buf.String(), "KQI_SHARED_ROOT is open"); got != warns {
			t.Errorf("mode %o: warned %v, want %v (%q)", mode, got, warns, buf.String())
		}
	}
}
