package secret

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSealOpen(t *testing.T) {
	s, err := NewSealerFromKey(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal("ghp_token", "git:1:user:2")
	if bytes.Contains(sealed, []byte("ghp_token")) {
		t.Fatal("plaintext visible in the sealed value")
	}
	if got, err := s.Open(sealed, "git:1:user:2"); err != nil || got != "ghp_token" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := s.Open(sealed, "git:1:user:3"); err != ErrOpen {
		t.Fatal("a value moved to another row opened")
	}
	other, _ := NewSealerFromKey(bytes.Repeat([]byte("x"), 32))
	if _, err := other.Open(sealed, "git:1:user:2"); err != ErrOpen {
		t.Fatal("another key opened the value")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := s.Open(sealed, "git:1:user:2"); err != ErrOpen {
		t.Fatal("a damaged value opened")
	}
}

func TestKeyFileRules(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("tiny"), 0o600)
	if _, err := NewSealer(short); err == nil {
		t.Error("short key accepted")
	}
	open := filepath.Join(dir, "open")
	os.WriteFile(open, bytes.Repeat([]byte("k"), 32), 0o644)
	if _, err := NewSealer(open); err == nil {
		t.Error("world-readable key accepted")
	}
	good := filepath.Join(dir, "good")
	os.WriteFile(good, bytes.Repeat([]byte("k"), 32), 0o600)
	if _, err := NewSealer(good); err != nil {
		t.Error(err)
	}
}
