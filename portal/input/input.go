// Package input is the one set of rules every value a request carries is
// held to at the edge, before any handler reads it: text is valid UTF-8,
// has no NUL or other control character (newlines and tabs only in the
// fields where a line break means something), and has a length limit;
// numbers are whole and within a range that no arithmetic on them and no
// database column overflows. Pages and the API call it once per request
// (query, form, JSON body) and answer its refusal as a 4xx.
package input

import (
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"kqi/portal/refusal"
)

// Length limits, in characters.
const (
	MaxLine = 4096     // any one-line value (names, URLs, tokens)
	MaxText = 64 << 10 // any multi-line value (a memo, a command, env lines)
	MaxName = 256      // the name of a datum or dataset
	MaxMemo = 4096     // a memo of anything
	MaxTag  = 64       // one tag
	MaxTags = 32       // tags of one thing
)

// Number limits: generous for any cluster, small enough that memory in
// MiB, a time limit in seconds and a page's offset stay far inside
// PostgreSQL's INTEGER and Go's int.
const (
	MaxCPU        = 1 << 16
	MaxMemoryGB   = 1 << 20 // 1 PiB
	MaxGPU        = 1 << 12
	MaxMinutes    = 1 << 24 // about 32 years
	MaxPage       = 1 << 20
	MaxQuotaLimit = 1 << 30 // a tenant quota of CPUs, GiB or GPUs
)

// multiLine are the fields whose values may hold line breaks and tabs.
// A pasted public key ends in a line break (an authorized_keys line).
var multiLine = map[string]bool{"memo": true, "command": true, "env": true, "sbatch_options": true, "public_key": true}

// Check returns the catalog key of what is wrong with value as the value
// of field, or "" when nothing is. The field's name is checked the same way
// by Values.
func Check(field, value string) string {
	if !utf8.ValidString(value) {
		return "input.bad_utf8"
	}
	multi := multiLine[field]
	for _, c := range value {
		if control(c, multi) {
			return "input.control"
		}
	}
	limit := MaxLine
	if multi {
		limit = MaxText
	}
	if utf8.RuneCountInString(value) > limit {
		return "input.too_long"
	}
	return ""
}

// control reports whether c is a control character a value may not hold;
// a multi-line one may hold line breaks and tabs.
func control(c rune, multi bool) bool {
	return c < 0x20 && !(multi && (c == '\n' || c == '\r' || c == '\t')) || c == 0x7f
}

// Values checks every name and value of a query or form.
func Values(v map[string][]string) error {
	var bad refusal.Fields
	for name, vals := range v {
		if Check("", name) != "" {
			bad.Add("", "input.bad_field")
			continue
		}
		for _, val := range vals {
			if key := Check(name, val); key != "" {
				bad.Add(name, key, name)
				break
			}
		}
	}
	return bad.Err()
}

// JSON checks every string of a decoded JSON body (struct fields by their
// JSON names, map keys and values, slice elements).
func JSON(v any) error {
	var bad refusal.Fields
	walk(reflect.ValueOf(v), "", &bad)
	return bad.Err()
}

func walk(v reflect.Value, field string, bad *refusal.Fields) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walk(v.Elem(), field, bad)
		}
	case reflect.String:
		if key := Check(field, v.String()); key != "" {
			bad.Add(field, key, field)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && name == "" {
				name = field
			} else if name == "" {
				name = f.Name
			}
			walk(v.Field(i), name, bad)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			walk(k, field, bad)
			walk(v.MapIndex(k), field, bad)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walk(v.Index(i), field, bad)
		}
	}
}

// Int reads a whole number in [lo, hi] as typed (spaces around allowed);
// anything else is 0 and not ok.
func Int(s string, lo, hi int64) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

// InRange reports whether n is in [lo, hi].
func InRange(n, lo, hi int) bool { return n >= lo && n <= hi }

// Clean is value with what Check refuses made visible and harmless:
// invalid bytes and control characters (but the line breaks and tabs its
// field may hold) become U+FFFD, so a form shown again keeps the rest of
// what was typed and marks where the bad characters were. Length is left
// alone: text too long is shown whole, for its writer to shorten where
// they choose (a form body is at most 10 MB).
func Clean(field, value string) string {
	multi := multiLine[field]
	return strings.Map(func(c rune) rune {
		if control(c, multi) {
			return utf8.RuneError
		}
		return c
	}, strings.ToValidUTF8(value, string(utf8.RuneError)))
}

// Request checks what every handler may read without decoding a body
// itself: the path, the query (Head) and a URL-encoded form (Form).
// Multipart uploads and JSON bodies are checked where they are read
// (Values per field, JSON).
func Request(r *http.Request) error {
	if err := Head(r); err != nil {
		return err
	}
	return Form(r)
}

// Head checks the path and the query.
func Head(r *http.Request) error {
	if key := Check("", r.URL.Path); key != "" {
		return refusal.Invalidf("", key, "path")
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return refusal.Invalidf("", "input.bad_query")
	}
	return Values(q)
}

// Form checks a URL-encoded form body, parsing it so handlers read
// r.PostForm as usual. A refused form is left cleaned (Clean, every value
// of r.PostForm and r.Form), so a page can show it again with what was
// typed; the refusal names each field (a malformed body or a field name
// that is not text is a refusal of the request as a whole, field "").
func Form(r *http.Request) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" || r.Method == http.MethodGet {
		return nil
	}
	if err := r.ParseForm(); err != nil {
		return refusal.Invalidf("", "input.bad_form")
	}
	err := Values(r.PostForm)
	if err != nil {
		for _, v := range []url.Values{r.PostForm, r.Form} {
			for name, vals := range v {
				for i := range vals {
					vals[i] = Clean(name, vals[i])
				}
			}
		}
	}
	return err
}
