package data

import (
	"reflect"
	"strings"
	"testing"

	"kqi/portal/refusal"
	"kqi/storage"
)

// reasons lists a refusal's reasons as "field key arg", or nil for none.
func reasons(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	e, ok := refusal.Of(err)
	if !ok || e.Kind != refusal.Invalid {
		t.Fatalf("not an invalid refusal: %v", err)
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, strings.TrimSpace(f.Field+" "+f.Key+" "+f.Arg))
	}
	return out
}

func TestParseTags(t *testing.T) {
	long := strings.Repeat("x", MaxTagLen+1)
	many := strings.Repeat("t,", MaxTags) + "u,v"
	for _, tc := range []struct {
		name, in string
		want     []string
		refused  []string
	}{
		{"empty", "", nil, nil},
		{"blanks and commas only", " , ,, ", nil, nil},
		{"trimmed, order kept", " b , a,c ", []string{"b", "a", "c"}, nil},
		{"repeats dropped", "a, b, a, b", []string{"a", "b"}, nil},
		{"inner spaces kept", "new york, 東京", []string{"new york", "東京"}, nil},
		{"longest allowed", strings.Repeat("é", MaxTagLen), []string{strings.Repeat("é", MaxTagLen)}, nil},
		{"too long", "ok, " + long, []string{"ok", long}, []string{"tags data.tag_too_long " + long}},
		{"invalid UTF-8", "a\xff", []string{"a\xff"}, []string{"tags data.tag_too_long a\xff"}},
		{"repeats do not count toward MaxTags", many, []string{"t", "u", "v"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTags(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("tags %q, want %q", got, tc.want)
			}
			if r := reasons(t, err); !reflect.DeepEqual(r, tc.refused) {
				t.Errorf("refused %q, want %q", r, tc.refused)
			}
		})
	}
	t.Run("more than MaxTags", func(t *testing.T) {
		var in []string
		for i := 0; i <= MaxTags; i++ {
			in = append(in, strings.Repeat("t", i+1))
		}
		if r := reasons(t, second(ParseTags(strings.Join(in, ",")))); !reflect.DeepEqual(r, []string{"tags data.too_many_tags"}) {
			t.Errorf("refused %q", r)
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestFormRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		form    Form
		refused []string
	}{
		{"fine", Form{Name: " cats ", Memo: "m", Tags: []string{"a"}}, nil},
		{"no name", Form{Name: "  "}, []string{"name data.name_required"}},
		{"long name", Form{Name: strings.Repeat("n", MaxNameLen+1)}, []string{"name data.name_too_long"}},
		{"every reason at once", Form{Name: "", Memo: strings.Repeat("m", MaxMemoLen+1), Tags: []string{strings.Repeat("x", MaxTagLen+1)}},
			[]string{"name data.name_required", "memo data.memo_too_long", "tags data.tag_too_long " + strings.Repeat("x", MaxTagLen+1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var bad refusal.Fields
			tc.form.check(&bad)
			if r := reasons(t, bad.Err()); !reflect.DeepEqual(r, tc.refused) {
				t.Errorf("refused %q, want %q", r, tc.refused)
			}
		})
	}
}

func TestDatasetFormRules(t *testing.T) {
	for _, tc := range []struct {
		name    string
		form    DatasetForm
		refused []string
	}{
		{"fine", DatasetForm{Name: "split", Entries: []storage.Entry{{DataID: 1, Area: "training"}}}, nil},
		{"no name", DatasetForm{}, []string{"name dataset.name_required"}},
		{"unknown area", DatasetForm{Name: "x", Entries: []storage.Entry{{DataID: 1, Area: "train"}}}, []string{"entries dataset.bad_area train"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := reasons(t, tc.form.check()); !reflect.DeepEqual(r, tc.refused) {
				t.Errorf("refused %q, want %q", r, tc.refused)
			}
		})
	}
}
