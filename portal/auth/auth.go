// Package auth checks who is calling: passwords, random secrets for
// sessions and tokens, and the login decision shared by the browser and the
// API.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"kqi/storage"
)

// ErrBadCredentials covers both an unknown user and a wrong password, so a
// caller cannot probe which user names exist.
var ErrBadCredentials = errors.New("auth: wrong user name or password")

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

// dummyHash is compared against when the user does not exist, so both
// failures take the same time.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("kqi-no-such-user"), bcryptCost)
	return h
})

// Users is the part of storage a login needs.
type Users interface {
	UserByName(ctx context.Context, username string) (*storage.User, error)
}

// Login returns the user whose name and password match, or ErrBadCredentials.
func Login(ctx context.Context, users Users, username, password string) (*storage.User, error) {
	u, err := users.UserByName(ctx, username)
	if errors.Is(err, storage.ErrNotFound) {
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		return nil, ErrBadCredentials
	}
	return u, nil
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
