// Package secret seals the secrets users store (Git and registry tokens)
// with the portal's key, so a database dump does not reveal them.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
)

// Sealer encrypts and authenticates with AES-256-GCM.
type Sealer struct{ aead cipher.AEAD }

// minKeyBytes is the least randomness a key file must hold.
const minKeyBytes = 32

// NewSealer derives the key from a key file's content (at least 32 bytes,
// e.g. `head -c 32 /dev/urandom`). The file must not be readable by others.
func NewSealer(keyFile string) (*Sealer, error) {
	fi, err := os.Stat(keyFile)
	if err != nil {
		return nil, fmt.Errorf("secret: key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secret: key file %s is readable by others (mode %v): chmod 600 it", keyFile, fi.Mode().Perm())
	}
	raw, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("secret: key file: %w", err)
	}
	return NewSealerFromKey(raw)
}

// NewSealerFromKey uses raw key material directly (tests).
func NewSealerFromKey(raw []byte) (*Sealer, error) {
	if len(raw) < minKeyBytes {
		return nil, fmt.Errorf("secret: key must hold at least %d bytes", minKeyBytes)
	}
	key := sha256.Sum256(raw)
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext; label binds the result to where it is stored
// (e.g. "git:3:user:7"), so a sealed value copied to another row fails to
// open.
func (s *Sealer) Seal(plaintext, label string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return s.aead.Seal(nonce, nonce, []byte(plaintext), []byte(label))
}

// ErrOpen means a sealed value is damaged, or was sealed with another key or
// label.
var ErrOpen = errors.New("secret: cannot open sealed value")

// Open decrypts what Seal made for the same label.
func (s *Sealer) Open(sealed []byte, label string) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", ErrOpen
	}
	out, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(label))
	if err != nil {
		return "", ErrOpen
	}
	return string(out), nil
}
