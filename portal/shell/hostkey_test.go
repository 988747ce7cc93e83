package shell

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The host key is made once (0600) and the same key is read back at every
// start; a key file others can read is refused.
func TestHostKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "host_key")
	first, err := HostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key file: %v, mode %v", err, fi.Mode().Perm())
	}
	again, err := HostKey(path)
	if err != nil || !bytes.Equal(first.PublicKey().Marshal(), again.PublicKey().Marshal()) {
		t.Fatalf("a second start has another host key: %v", err)
	}
	os.Chmod(path, 0o644)
	if _, err := HostKey(path); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("a world-readable host key: %v", err)
	}
}
