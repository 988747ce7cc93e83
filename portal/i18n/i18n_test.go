package i18n

import (
	"io/fs"
	"regexp"
	"testing"

	"kqi/templates"
)

func TestCatalogsHaveTheSameKeys(t *testing.T) {
	for _, lang := range Languages {
		for _, k := range Keys(Default) {
			if !Has(lang, k) {
				t.Errorf("%s lacks %q", lang, k)
			}
		}
		for _, k := range Keys(lang) {
			if !Has(Default, k) {
				t.Errorf("%s has %q that %s lacks", lang, k, Default)
			}
		}
	}
}

// Every literal key a template passes to `t` must exist.
func TestTemplateKeysExist(t *testing.T) {
	lit := regexp.MustCompile(`\{\{-?\s*t\s+"([^"]+)"`)
	err := fs.WalkDir(templates.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, _ := fs.ReadFile(templates.FS, path)
		for _, m := range lit.FindAllStringSubmatch(string(body), -1) {
			if !Has(Default, m[1]) {
				t.Errorf("%s uses unknown key %q", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTAndFallbacks(t *testing.T) {
	if got := T("ja", "nav.data"); got != "データ" {
		t.Errorf("ja nav.data = %q", got)
	}
	if got := T("fr", "nav.data"); got != "Data" {
		t.Errorf("unknown language falls back to English: %q", got)
	}
	if got := T("en", "home.working_in", "lab", "user"); got != "You are working in tenant lab as user." {
		t.Errorf("formatting: %q", got)
	}
	if got := T("en", "no.such.key"); got != "no.such.key" {
		t.Errorf("missing key: %q", got)
	}
}

func TestFromAcceptLanguage(t *testing.T) {
	for header, want := range map[string]string{
		"ja,en-US;q=0.9": "ja", "en-GB": "en", "fr-FR, ja;q=0.5": "ja", "": "en", "de": "en",
	} {
		if got := FromAcceptLanguage(header); got != want {
			t.Errorf("%q → %q, want %q", header, got, want)
		}
	}
}
