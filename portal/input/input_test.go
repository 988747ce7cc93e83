package input

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		field, value, want string
	}{
		{"name", "cats 猫", ""},
		{"name", "a\x00b", "input.control"},
		{"memo", "a\x00b", "input.control"},
		{"name", "a\xffb", "input.bad_utf8"},
		{"name", "two\nlines", "input.control"},
		{"memo", "two\r\nlines\tand a tab", ""},
		{"command", "python3 train.py \\\n  --epochs 3", ""},
		{"memo", "bell\x07", "input.control"},
		{"name", "del\x7f", "input.control"},
		{"name", strings.Repeat("a", MaxLine), ""},
		{"name", strings.Repeat("a", MaxLine+1), "input.too_long"},
		{"memo", strings.Repeat("あ", MaxText), ""},
		{"memo", strings.Repeat("a", MaxText+1), "input.too_long"},
	} {
		if got := Check(c.field, c.value); got != c.want {
			t.Errorf("Check(%q, %.20q) = %q, want %q", c.field, c.value, got, c.want)
		}
	}
}

func TestJSONWalksEveryString(t *testing.T) {
	type git struct {
		Repository string `json:"repository"`
	}
	type body struct {
		Name string            `json:"name"`
		Git  git               `json:"git"`
		Env  map[string]string `json:"env"`
		Tags []string          `json:"tags"`
		Ptr  *string           `json:"ptr"`
	}
	nul := "a\x00"
	for _, c := range []struct {
		name  string
		body  body
		field string
	}{
		{"nested", body{Git: git{Repository: nul}}, "repository"},
		{"map value", body{Env: map[string]string{"A": nul}}, "env"},
		{"map key", body{Env: map[string]string{nul: "x"}}, "env"},
		{"slice", body{Tags: []string{"ok", nul}}, "tags"},
		{"pointer", body{Ptr: &nul}, "ptr"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := JSON(&c.body)
			if err == nil || !strings.Contains(err.Error(), c.field+": input.control") {
				t.Errorf("JSON = %v, want a refusal of %s", err, c.field)
			}
		})
	}
	if err := JSON(&body{Name: "fine", Env: map[string]string{"A": "multi\nline"}}); err != nil {
		t.Errorf("a good body: %v", err)
	}
}

func TestInt(t *testing.T) {
	for _, c := range []struct {
		s  string
		n  int64
		ok bool
	}{{" 12 ", 12, true}, {"0", 0, false}, {"1025", 0, false}, {"9223372036854775808", 0, false}, {"1e3", 0, false}, {"", 0, false}} {
		if n, ok := Int(c.s, 1, 1024); n != c.n || ok != c.ok {
			t.Errorf("Int(%q) = %d, %v", c.s, n, ok)
		}
	}
}
