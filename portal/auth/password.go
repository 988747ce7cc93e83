package auth

import (
	_ "embed"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrPasswordGuessable refuses a password a guesser tries early: a common
// one, the user's own name, one character repeated, a plain run like
// 12345678 or abcdefgh.
var ErrPasswordGuessable = errors.New("auth: password is too easy to guess")

//go:embed common_passwords.txt
var commonList string

var common = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonList, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			m[line] = true
		}
	}
	return m
}()

// CheckNewPassword is the policy for a password being set for username:
// the length rules, then guessability.
func CheckNewPassword(password, username string) error {
	if err := CheckPasswordPolicy(password); err != nil {
		return err
	}
	if guessable(password, username) {
		return ErrPasswordGuessable
	}
	return nil
}

func guessable(password, username string) bool {
	p := strings.ToLower(password)
	base := strings.TrimRightFunc(p, func(r rune) bool {
		return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r)
	})
	if common[p] || common[base] || strings.TrimSpace(p) == "" {
		return true
	}
	if name := strings.ToLower(username); utf8.RuneCountInString(name) >= 3 && (strings.Contains(p, name) || strings.Contains(p, reverse(name))) {
		return true
	}
	return fewDistinct(p) || run(p)
}

// fewDistinct: at most two different characters ("aaaaaaaa", "abababab").
func fewDistinct(p string) bool {
	seen := map[rune]bool{}
	for _, r := range p {
		seen[r] = true
	}
	return len(seen) <= 2
}

// run: every character one up (or one down) from the one before, as in
// 12345678, abcdefgh, 87654321.
func run(p string) bool {
	rs := []rune(p)
	up, down := true, true
	for i := 1; i < len(rs); i++ {
		up = up && rs[i] == rs[i-1]+1
		down = down && rs[i] == rs[i-1]-1
	}
	return up || down
}

func reverse(s string) string {
	rs := []rune(s)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return string(rs)
}
