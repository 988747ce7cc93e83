package shell

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestParseKey(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	key, _ := ssh.NewPublicKey(pub)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	weakKey, _ := ssh.NewPublicKey(&weak.PublicKey)

	got, fp, problem := ParseKey("  " + line + " alice@laptop\n")
	if problem != "" || got != line || fp != ssh.FingerprintSHA256(key) || !strings.HasPrefix(fp, "SHA256:") {
		t.Errorf("a good key with a comment: %q %q %q", got, fp, problem)
	}
	for text, want := range map[string]string{
		"":                                       "shell.key_required",
		"-----BEGIN OPENSSH PRIVATE KEY-----\nx": "shell.key_private",
		"ssh-ed25519 notbase64":                  "shell.key_invalid",
		line + "\n" + line:                       "shell.key_invalid",
		string(ssh.MarshalAuthorizedKey(weakKey)): "shell.key_weak",
	} {
		if _, _, problem := ParseKey(text); problem != want {
			t.Errorf("ParseKey(%.40q) = %q, want %q", text, problem, want)
		}
	}
}

func TestParseLogin(t *testing.T) {
	for login, want := range map[string]string{
		"training-42": "training 42", "inference-7": "inference 7",
		"training-0": "", "training-": "", "training-+4": "", "training-x": "", "tensorboard-3": "", "root": "", "-3": "",
	} {
		k, id, ok := ParseLogin(login)
		got := ""
		if ok {
			got = k.Name() + " " + strconv.FormatInt(id, 10)
		}
		if got != want {
			t.Errorf("ParseLogin(%q) = %q, want %q", login, got, want)
		}
	}
}
