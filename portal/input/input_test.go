package input

import (
	"net/http"
	"net/http/httptest"

	"kqi/portal/refusal"
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

func TestCleanKeepsWhatCheckAccepts(t *testing.T) {
	for _, c := range []struct {
		field, value, want string
	}{
		{"name", "cats 猫", "cats 猫"},
		{"name", "a\x00b", "a\uFFFDb"},
		{"name", "a\xff\xfeb", "a\uFFFDb"},
		{"name", "two\nlines", "two\uFFFDlines"},
		{"memo", "two\r\nlines\tand\x1b", "two\r\nlines\tand\uFFFD"},
		{"name", "del\x7f", "del\uFFFD"},
	} {
		got := Clean(c.field, c.value)
		if got != c.want {
			t.Errorf("Clean(%q, %q) = %q, want %q", c.field, c.value, got, c.want)
		}
		if key := Check(c.field, got); key != "" {
			t.Errorf("Check(%q, Clean(%q)) = %q", c.field, c.value, key)
		}
	}
	long := strings.Repeat("a", MaxLine+1)
	if Clean("name", long) != long {
		t.Error("Clean cut a long value; it is shown whole for its writer to shorten")
	}
}

func TestFormCleansARefusedForm(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/x?q=1", strings.NewReader("name=a%00b&memo=fine%0Aline&tags=%FF"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	err := Form(r)
	e, ok := refusal.Of(err)
	if !ok || len(e.Fields) != 2 {
		t.Fatalf("Form = %v, want refusals of name and tags", err)
	}
	for field, key := range map[string]string{"name": "input.control", "tags": "input.bad_utf8"} {
		if f := e.ByField()[field]; len(f) != 1 || f[0].Key != key || f[0].Arg != field {
			t.Errorf("refusal of %s = %v, want %s", field, f, key)
		}
	}
	for field, want := range map[string]string{"name": "a\uFFFDb", "memo": "fine\nline", "tags": "\uFFFD"} {
		if got := r.PostFormValue(field); got != want {
			t.Errorf("PostForm %s = %q, want %q", field, got, want)
		}
		if got := r.FormValue(field); got != want {
			t.Errorf("Form %s = %q, want %q", field, got, want)
		}
	}
	if r.FormValue("q") != "1" {
		t.Error("the query's values were lost from r.Form")
	}
}
