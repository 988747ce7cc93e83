package scalars

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"kqi/storage/files"
)

// mapSource is an output directory in memory.
type mapSource map[string][]byte

func (m mapSource) Files(context.Context) ([]File, error) {
	var out []File
	for p, b := range m {
		out = append(out, File{Path: p, Size: int64(len(b))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (m mapSource) Open(_ context.Context, p string) (io.ReadCloser, error) {
	b, ok := m[p]
	if !ok {
		return nil, files.ErrNotExist
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func read(t *testing.T, src Source) Result {
	t.Helper()
	res, err := Read(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func byName(res Result) map[string][]Point {
	out := map[string][]Point{}
	for _, s := range res.Series {
		out[s.Name] = s.Points
	}
	return out
}

const fixture = "testdata/events.out.tfevents.1700000000.writer"

// expected reads the scalars write_events.py reported writing.
func expected(t *testing.T, path string) map[string][]Point {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string][]Point
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	return want
}

func samePoints(t *testing.T, got, want map[string][]Point) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("series %v, want %v", keys(got), keys(want))
	}
	for name, w := range want {
		g := got[name]
		if len(g) != len(w) {
			t.Fatalf("%s: %d points %v, want %d %v", name, len(g), g, len(w), w)
		}
		for i := range w {
			if g[i][0] != w[i][0] || math.Abs(g[i][1]-w[i][1]) > 1e-12*math.Max(1, math.Abs(w[i][1])) {
				t.Errorf("%s[%d] = %v, want %v", name, i, g[i], w[i])
			}
		}
	}
}

func keys(m map[string][]Point) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestEventsFromIndependentWriter reads an event file written by Python's
// protobuf runtime with TensorFlow's message definitions and framing, not
// by this package: the committed fixture and, unless -short, one written
// afresh by testdata/write_events.py (Debian's python3-protobuf).
func TestEventsFromIndependentWriter(t *testing.T) {
	b, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	res := read(t, mapSource{"logs/" + filepath.Base(fixture): b})
	if len(res.Notes) != 0 {
		t.Fatalf("notes %v", res.Notes)
	}
	want := map[string][]Point{}
	for k, v := range expected(t, "testdata/events.expected.json") {
		want["logs/"+k] = v
	}
	samePoints(t, byName(res), want)

	if testing.Short() {
		return
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "events.out.tfevents.1.fresh")
	cmd := exec.Command("/usr/bin/python3", "testdata/write_events.py", out)
	js, err := cmd.Output()
	if err != nil {
		t.Fatalf("write_events.py (needs Debian's python3-protobuf, installed by scripts/dev-cluster.sh): %v %s", err, stderrOf(err))
	}
	os.WriteFile(filepath.Join(dir, "want.json"), js, 0o600)
	fresh, _ := os.ReadFile(out)
	samePoints(t, byName(read(t, mapSource{filepath.Base(out): fresh})), expected(t, filepath.Join(dir, "want.json")))
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func TestEventsDamaged(t *testing.T) {
	good, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	whole := len(byName(read(t, mapSource{"e/events.out.tfevents.x": good}))["e/loss"])
	for _, tc := range []struct {
		name    string
		mangle  func([]byte) []byte
		note    bool
		atLeast int // points of loss still read
	}{
		{"a flipped byte near the end", func(b []byte) []byte { b[len(b)-20] ^= 0x40; return b }, true, 1},
		{"a flipped length", func(b []byte) []byte { b[0] ^= 1; return b }, true, 0},
		{"cut inside the last record (still being written)", func(b []byte) []byte { return b[:len(b)-7] }, false, whole - 1},
		{"random bytes", func([]byte) []byte { return []byte("this is not an event file at all, just text\n") }, true, 0},
		{"empty", func([]byte) []byte { return nil }, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mangle(append([]byte(nil), good...))
			res := read(t, mapSource{"e/events.out.tfevents.x": b})
			if got := len(res.Notes) > 0; got != tc.note {
				t.Fatalf("notes %v, want a note: %v", res.Notes, tc.note)
			}
			if tc.note && res.Notes[0].Key != "metrics.corrupt" {
				t.Errorf("note %v", res.Notes[0])
			}
			n := len(byName(res)["e/loss"])
			if n < tc.atLeast || n >= whole && tc.note {
				t.Errorf("%d points of loss, want at least %d and fewer than %d", n, tc.atLeast, whole)
			}
		})
	}
}

func TestCSVAndJSONL(t *testing.T) {
	for _, tc := range []struct {
		name  string
		src   mapSource
		want  map[string][]Point
		notes []string
	}{
		{"csv with a step column and a row still being written",
			mapSource{CSVFile: []byte("epoch,step,loss,note\n1,10,0.5,ok\n1,20,0.25,ok\r\n2,30,0.1")},
			map[string][]Point{"epoch": {{10, 1}, {20, 1}}, "loss": {{10, 0.5}, {20, 0.25}}}, nil},
		{"csv without a step column counts rows",
			mapSource{CSVFile: []byte("loss,acc\n0.9,0.1\n0.8,0.2\n")},
			map[string][]Point{"loss": {{1, 0.9}, {2, 0.8}}, "acc": {{1, 0.1}, {2, 0.2}}}, nil},
		{"csv with a broken line",
			mapSource{CSVFile: []byte("step,loss\n1,0.5\n2,\"0.4\n3,0.3\n")},
			map[string][]Point{"loss": {{1, 0.5}, {3, 0.3}}}, []string{"metrics.bad_line"}},
		{"jsonl",
			mapSource{JSONLFile: []byte(`{"step": 1, "loss": 0.5, "name": "x"}` + "\n" + `not json` + "\n" + `{"step": 2, "loss": 0.4, "acc": 0.7}` + "\n")},
			map[string][]Point{"loss": {{1, 0.5}, {2, 0.4}}, "acc": {{2, 0.7}}}, []string{"metrics.bad_line"}},
		{"a line too long",
			mapSource{JSONLFile: append(bytes.Repeat([]byte("x"), maxLine+10), '\n')},
			map[string][]Point{}, []string{"metrics.line_too_long"}},
		{"other files and names elsewhere are not metrics",
			mapSource{"sub/metrics.csv": []byte("step,loss\n1,2\n"), "log.txt": []byte("1,2\n")},
			map[string][]Point{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := read(t, tc.src)
			if got := byName(res); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("series %v, want %v", got, tc.want)
			}
			var notes []string
			for _, n := range res.Notes {
				notes = append(notes, n.Key)
			}
			if !reflect.DeepEqual(notes, tc.notes) {
				t.Errorf("notes %v, want %v", notes, tc.notes)
			}
		})
	}
}

func TestTooLargeFileIsReadInPartWithANote(t *testing.T) {
	big := make([]byte, 0, maxFileBytes+100)
	big = append(big, "step,loss\n"...)
	for len(big) < maxFileBytes+50 {
		big = append(big, "1,0.5\n"...)
	}
	res := read(t, mapSource{CSVFile: big})
	if len(res.Notes) != 1 || res.Notes[0].Key != "metrics.too_large" {
		t.Fatalf("notes %v", res.Notes)
	}
	if len(res.Series) != 1 || len(res.Series[0].Points) == 0 {
		t.Fatalf("series %v", len(res.Series))
	}
}

// FuzzEvents: no input makes the reader panic or loop.
func FuzzEvents(f *testing.F) {
	b, _ := os.ReadFile(fixture)
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		read(t, mapSource{"events.out.tfevents.f": b})
		parseEvent(b)
	})
}
