package web

import (
	"io/fs"
	"slices"
	"testing"

	"kqi/templates"
)

// Each page's template set holds the layout, the page and the partials a
// call reaches from them, and no others: a set carries its own copy of
// every template in it.
func TestPageSetsHoldOnlyWhatTheyCall(t *testing.T) {
	shared, err := fs.Glob(templates.FS, "partials/*.html")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := indexTemplates(append([]string{"layout.html"}, shared...))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		page       string
		has, lacks []string
	}{
		{"pages/data_list.html", []string{"layout.html", "partials/icons.html", "partials/pager.html"}, []string{"partials/job.html", "partials/picker.html"}},
		{"pages/training_new.html", []string{"partials/job.html", "partials/picker.html"}, nil},
		{"pages/training_detail.html", []string{"partials/job.html", "partials/tensorboard.html", "partials/shell.html"}, nil},
		{"pages/login.html", []string{"layout.html"}, []string{"partials/job.html", "partials/pager.html", "partials/picker.html"}},
	} {
		set, err := idx.setOf(c.page)
		if err != nil {
			t.Fatalf("%s: %v", c.page, err)
		}
		if set[0] != "layout.html" || set[len(set)-1] != c.page {
			t.Errorf("%s: set %v must start with the layout and end with the page", c.page, set)
		}
		for _, f := range c.has {
			if !slices.Contains(set, f) {
				t.Errorf("%s: set %v lacks %s", c.page, set, f)
			}
		}
		for _, f := range c.lacks {
			if slices.Contains(set, f) {
				t.Errorf("%s: set %v holds %s, which it never calls", c.page, set, f)
			}
		}
	}
	// A call no file answers is an error at start-up, not at the first view.
	idx.calls["layout.html"] = append(idx.calls["layout.html"], "no_such_partial")
	if _, err := idx.setOf("pages/login.html"); err == nil {
		t.Error("a call of an undefined template went unnoticed")
	}
}
