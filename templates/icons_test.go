package templates

import (
	"html/template"
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// Every icon a template asks for is drawn: a name the icons partial does
// not know would render an empty <svg> silently.
func TestEveryIconUsedIsDrawn(t *testing.T) {
	icons := template.Must(template.ParseFS(FS, "partials/icons.html"))
	draw := func(name string) string {
		var b strings.Builder
		if err := icons.ExecuteTemplate(&b, "icon", name); err != nil {
			t.Fatalf("icon %q: %v", name, err)
		}
		return b.String()
	}
	drawn := regexp.MustCompile(`<(path|circle|rect) `)
	if drawn.MatchString(draw("no-such-icon")) {
		t.Fatal("an unknown name draws something: this test could not tell")
	}
	used := regexp.MustCompile(`\{\{template "icon" "([a-z-]+)"\}\}`)
	seen := 0
	err := fs.WalkDir(FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".html") {
			return err
		}
		src, err := fs.ReadFile(FS, path)
		if err != nil {
			return err
		}
		for _, m := range used.FindAllStringSubmatch(string(src), -1) {
			seen++
			if out := draw(m[1]); !drawn.MatchString(out) {
				t.Errorf("%s uses icon %q, which the icons partial does not draw", path, m[1])
			} else if !strings.Contains(out, `aria-hidden="true"`) {
				t.Errorf("icon %q is not hidden from screen readers", m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen == 0 {
		t.Fatal("no template uses an icon")
	}
}
