package slurm

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// TokenSigner mints the HS256 JWTs slurmctld and slurmrestd accept
// (AuthAltTypes=auth/jwt), signed with the cluster's own key, so the portal
// needs no `scontrol token` round trip and no stored user tokens.
type TokenSigner struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// NewTokenSigner reads the key file named by AuthAltParameters=jwt_key.
func NewTokenSigner(keyFile string, ttl time.Duration) (*TokenSigner, error) {
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("slurm: jwt key: %w", err)
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("slurm: jwt key %s is too short (%d bytes)", keyFile, len(key))
	}
	return &TokenSigner{key: key, ttl: ttl, now: time.Now}, nil
}

// Sign returns a token for the cluster user name (the `sun` claim).
func (s *TokenSigner) Sign(user string) (string, error) {
	now := s.now()
	claims, err := json.Marshal(struct {
		Exp int64  `json:"exp"`
		Iat int64  `json:"iat"`
		Sun string `json:"sun"`
	}{now.Add(s.ttl).Unix(), now.Unix(), user})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	unsigned := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil)), nil
}
