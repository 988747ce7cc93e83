package shell

import (
	"context"
	"crypto/rsa"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"

	"kqi/portal/refusal"
	"kqi/storage"
)

// Keys are the SSH public keys users log in to the SSH endpoint with.
type Keys struct {
	Store *storage.Store
}

// maxKeyName bounds a key's name.
const maxKeyName = 100

// Add registers a key for the user. Refusals name the field: "name"
// (empty, too long, taken) or "public_key" (not a key, too weak, already
// registered by anyone).
func (k *Keys) Add(ctx context.Context, userID int64, name, text string) (*storage.SSHKey, error) {
	name = strings.TrimSpace(name)
	var bad refusal.Fields
	switch {
	case name == "":
		bad.Add("name", "shell.key_name_required")
	case utf8.RuneCountInString(name) > maxKeyName || strings.IndexFunc(name, unicode.IsControl) >= 0:
		bad.Add("name", "shell.key_name_invalid")
	}
	line, fp, key := ParseKey(text)
	if key != "" {
		bad.Add("public_key", key)
	}
	if err := bad.Err(); err != nil {
		return nil, err
	}
	created, err := k.Store.CreateSSHKey(ctx, userID, name, line, fp)
	switch {
	case errors.Is(err, storage.ErrConflict):
		return nil, refusal.Invalidf("name", "shell.key_name_taken")
	case errors.Is(err, storage.ErrSSHKeyTaken):
		return nil, refusal.Invalidf("public_key", "shell.key_taken")
	}
	return created, err
}

// List returns the user's keys.
func (k *Keys) List(ctx context.Context, userID int64) ([]storage.SSHKey, error) {
	return k.Store.SSHKeys(ctx, userID)
}

// Delete removes one of the user's keys; another user's is not found.
func (k *Keys) Delete(ctx context.Context, userID, id int64) error {
	if err := k.Store.DeleteSSHKey(ctx, userID, id); errors.Is(err, storage.ErrNotFound) {
		return refusal.Missing()
	} else if err != nil {
		return err
	}
	return nil
}

// ParseKey reads one public key as an authorized_keys line or a .pub file
// has it and returns it without options or comment, its SHA256
// fingerprint, and "" — or a catalog key saying what is wrong.
func ParseKey(text string) (line, fingerprint, problem string) {
	text = strings.TrimSpace(text)
	if text == "" {
		return "", "", "shell.key_required"
	}
	if strings.Contains(text, "PRIVATE KEY") {
		return "", "", "shell.key_private"
	}
	pub, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(text))
	if err != nil || strings.TrimSpace(string(rest)) != "" {
		return "", "", "shell.key_invalid"
	}
	switch pub.Type() {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoSKED25519, ssh.KeyAlgoSKECDSA256:
	case ssh.KeyAlgoRSA:
		if c, ok := pub.(ssh.CryptoPublicKey); ok {
			if r, ok := c.CryptoPublicKey().(*rsa.PublicKey); ok && r.N.BitLen() < 2048 {
				return "", "", "shell.key_weak"
			}
		}
	default:
		return "", "", "shell.key_type"
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))), ssh.FingerprintSHA256(pub), ""
}
