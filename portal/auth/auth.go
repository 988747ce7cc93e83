// Package auth checks who is calling: passwords, the login decision and
// its failure limit, browser sessions and API tokens, shared by the pages
// and the API.
package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"kqi/storage"
)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 8

// bcryptCost is slow enough to hurt guessing, fast enough for a login.
const bcryptCost = 12

// HashPassword returns a salted bcrypt hash.
func HashPassword(password string) (string, error) {
	if err := CheckPasswordPolicy(password); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	return string(h), nil
}

// ErrPasswordTooShort and ErrPasswordTooLong name the two policy failures.
var (
	ErrPasswordTooShort = fmt.Errorf("auth: password must have at least %d characters", MinPasswordLength)
	ErrPasswordTooLong  = errors.New("auth: password must be at most 72 bytes")
)

// CheckPasswordPolicy enforces the length rules (bcrypt reads 72 bytes).
func CheckPasswordPolicy(password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return ErrPasswordTooShort
	}
	if len(password) > 72 {
		return ErrPasswordTooLong
	}
	return nil
}

// VerifyPassword reports whether password matches the user's hash.
func VerifyPassword(u *storage.User, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) == nil
}

// NewSecret returns 32 random bytes, URL-safe encoded: session ids, CSRF
// tokens, API tokens and generated passwords.
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
