package slurm

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTokenSignerSignsHS256(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	file := filepath.Join(t.TempDir(), "jwt.key")
	if err := os.WriteFile(file, key, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewTokenSigner(file, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return time.Unix(1_700_000_000, 0) }
	tok, err := s.Sign("kqi")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts", tok, len(parts))
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if want := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)); parts[2] != want {
		t.Fatal("signature does not verify with the key")
	}
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	if claims["sun"] != "kqi" || claims["iat"].(float64) != 1_700_000_000 || claims["exp"].(float64) != 1_700_000_300 {
		t.Fatalf("claims %v", claims)
	}
}

func TestTokenSignerRejectsShortKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "jwt.key")
	os.WriteFile(file, []byte("short"), 0o600)
	if _, err := NewTokenSigner(file, time.Minute); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}
