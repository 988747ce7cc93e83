package auth

import (
	"errors"
	"testing"
)

func TestCheckNewPassword(t *testing.T) {
	for _, c := range []struct {
		password, user string
		want           error
	}{
		{"password", "alice", ErrPasswordGuessable},
		{"Password123!", "alice", ErrPasswordGuessable},
		{"12345678", "alice", ErrPasswordGuessable},
		{"87654321", "alice", ErrPasswordGuessable},
		{"abcdefghij", "alice", ErrPasswordGuessable},
		{"        ", "alice", ErrPasswordGuessable},
		{"aaaaaaaaaa", "alice", ErrPasswordGuessable},
		{"abababab", "alice", ErrPasswordGuessable},
		{"qwertyuiop", "alice", ErrPasswordGuessable},
		{"alice2026", "alice", ErrPasswordGuessable},
		{"my-AliceX-pw", "alice", ErrPasswordGuessable},
		{"ecila-pw-99", "alice", ErrPasswordGuessable},
		{"short", "alice", ErrPasswordTooShort},
		{"correct-horse-9", "alice", nil},
		{"a-long-password-9", "alice", nil},
		{"猫が好きな研究者です", "alice", nil},
		{"bo-is-fine-here", "bo", nil}, // a two-letter name is not searched for
	} {
		if err := CheckNewPassword(c.password, c.user); !errors.Is(err, c.want) {
			t.Errorf("CheckNewPassword(%q, %q) = %v, want %v", c.password, c.user, err, c.want)
		}
	}
}
