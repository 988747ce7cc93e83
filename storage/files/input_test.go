package files

import (
	"errors"
	"slices"
	"testing"
)

func TestInputLinks(t *testing.T) {
	got, err := InputLinks("jobs/12/input", []InputFile{
		{Area: "training", DataID: 3, Name: "データ 1.csv", Path: "tenants/1/data/3/データ 1.csv"},
		{Area: "testing", DataID: 4, Name: "b.png", Path: "tenants/1/data/4/b.png"},
		{DataID: 5, Name: "c.txt", Path: "tenants/1/data/5/c.txt"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Link{
		{"tenants/1/data/3/データ 1.csv", "jobs/12/input/training/3/データ 1.csv"},
		{"tenants/1/data/4/b.png", "jobs/12/input/testing/4/b.png"},
		{"tenants/1/data/5/c.txt", "jobs/12/input/5/c.txt"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("InputLinks = %q\nwant %q", got, want)
	}
	for _, bad := range []struct {
		dir string
		f   InputFile
	}{
		{"jobs/12/input", InputFile{Area: "training", DataID: 3, Name: "../../escape", Path: "d/x"}},
		{"jobs/12/input", InputFile{Area: "../x", DataID: 3, Name: "a", Path: "d/x"}},
		{"jobs/12/input", InputFile{DataID: 3, Name: "", Path: "d/x"}},
		{"/abs/input", InputFile{DataID: 3, Name: "a", Path: "d/x"}},
		{"jobs/../input", InputFile{DataID: 3, Name: "a", Path: "d/x"}},
	} {
		if _, err := InputLinks(bad.dir, []InputFile{bad.f}); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("InputLinks(%q, %+v) = %v, want ErrInvalidPath", bad.dir, bad.f, err)
		}
	}
}
