package server_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"kqi/portal/portaltest"
)

// badValue is one hostile value, as text (forms, queries, path variables)
// and as JSON (API bodies: the raw JSON of the member's value).
type badValue struct {
	name string
	text string
	json string
}

var badValues = []badValue{
	{"nul", "a\x00b", `"a\u0000b"`},
	{"bad-utf8", "a\xffb\xfe", "\"a\xffb\xfe\""},
	{"control", "a\x01\x1b[2Jb", `"a\u0001\u001b[2Jb"`},
	{"overlong", strings.Repeat("x", 100_000), `"` + strings.Repeat("x", 100_000) + `"`},
	{"int64-max", "9223372036854775807", "9223372036854775807"},
	{"int64-min", "-9223372036854775808", "-9223372036854775808"},
	{"past-int64", "99999999999999999999", "1e30"},
	{"2^53", "9007199254740992", "9007199254740992"},
	{"2^40", "1099511627776", "1099511627776"},
	{"past-int32", "3000000000", "3000000000"},
	{"many-tags", strings.Repeat("t,", 5000), `[` + strings.Repeat(`"t",`, 5000) + `"t"]`},
}

// coreValues are the values sent to fields a route may not read (the
// generic names), to keep the walk short: every value goes to the fields
// its forms show and its baseline body has.
var coreValues = []badValue{badValues[0], badValues[1], badValues[4], badValues[8]}

// queryNames are parameters read from the query string by some list or
// page, sent to every route on top of the fields its forms show.
var queryNames = []string{"name", "memo", "tag", "tags", "status", "sort", "desc", "page", "per_page",
	"id_from", "id_to", "from", "to", "parent_id", "favorite", "ids", "next", "kind", "dataset_id", "training_id", "area",
	"offset", "live", "limit", "q", "lang", "tenant"}

// form is one form found on a page: its fields with what the page put in
// them, each field's kind (an input's type, or textarea, select), and
// whether it uploads.
type form struct {
	fields    url.Values
	kinds     map[string]string
	multipart bool
}

var (
	formTag  = regexp.MustCompile(`(?s)<form\b([^>]*)>(.*?)</form>`)
	fieldTag = regexp.MustCompile(`(?s)<(input|select|textarea)\b([^>]*)>`)
	attr     = func(name string) *regexp.Regexp { return regexp.MustCompile(`\b` + name + `="([^"]*)"`) }
	nameAttr = attr("name")
	valAttr  = attr("value")
	actAttr  = attr("action")
	metAttr  = attr("method")
	encAttr  = attr("enctype")
	typeAttr = attr("type")
	readonly = regexp.MustCompile(`\breadonly\b`)
)

// formsOf reads the forms of every page the browser can GET and files them
// under the route their action goes to: what each route is sent.
func formsOf(t *testing.T, w *world, b *portaltest.Browser, routes []route) map[string]form {
	t.Helper()
	forms := pageForms(t, w, b, routes)
	if len(forms) < 10 {
		t.Fatalf("only %d forms found on the pages: the form reader is broken", len(forms))
	}
	return forms
}

// pageForms is formsOf for any visitor, an anonymous one included.
func pageForms(t *testing.T, w *world, b *portaltest.Browser, routes []route) map[string]form {
	t.Helper()
	forms := map[string]form{}
	for _, r := range routes {
		if r.method != http.MethodGet || r.api() {
			continue
		}
		addForms(w, forms, b.Get(r.build(func(v string) string { return w.fill(t, r, w.lab, v) })).Body)
	}
	return forms
}

// addForms files the forms of one page's body in forms.
func addForms(w *world, forms map[string]form, body string) {
	for _, m := range formTag.FindAllStringSubmatch(body, -1) {
		action, method := html.UnescapeString(first(actAttr, m[1])), strings.ToUpper(first(metAttr, m[1]))
		if method == "" {
			method = http.MethodGet
		}
		u, err := url.Parse(action)
		if err != nil {
			continue
		}
		req, _ := http.NewRequest(method, u.Path, nil)
		var match mux.RouteMatch
		if !w.env.Router.Match(req, &match) || match.Route == nil || match.MatchErr != nil {
			continue
		}
		f := forms[match.Route.GetName()+" "+method]
		if f.fields == nil {
			f.fields, f.kinds = url.Values{}, map[string]string{}
		}
		f.multipart = f.multipart || strings.Contains(first(encAttr, m[1]), "multipart")
		for _, in := range fieldTag.FindAllStringSubmatch(m[2], -1) {
			name := html.UnescapeString(first(nameAttr, in[2]))
			if name == "" || name == "csrf_token" || f.fields.Has(name) {
				continue
			}
			f.kinds[name] = in[1]
			if in[1] == "input" {
				f.kinds[name] = cmp.Or(first(typeAttr, in[2]), "text")
			}
			if readonly.MatchString(in[2]) {
				f.kinds[name] = "readonly"
			}
			if in[1] == "input" && strings.Contains(in[2], `type="checkbox"`) && !strings.Contains(in[2], "checked") {
				f.fields[name] = nil // known, sent only when made bad
				continue
			}
			f.fields.Set(name, html.UnescapeString(first(valAttr, in[2])))
		}
		forms[match.Route.GetName()+" "+method] = f
	}
}

func first(re *regexp.Regexp, s string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// jsonNames are the members the API documents (docs/api.md), each sent to
// every API route that takes a body.
func jsonNames(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []string
	for _, m := range regexp.MustCompile(`"([a-z_]+)"\s*:`).FindAllStringSubmatch(string(doc), -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// jsonBaselines are bodies an API route accepts, for the routes whose
// members are only checked once the rest is valid; every member is then
// replaced in turn. Routes not listed get {} plus each documented member.
func jsonBaselines(w *world) map[string]map[string]any {
	o := w.lab
	job := map[string]any{"name": "fuzz", "dataset_id": o.dataset, "command": "true", "cpu": 1, "memory_gb": 1, "gpu": 0,
		"memo": "m", "env": map[string]any{"A": "b"}, "sbatch_options": []any{}, "time_limit_minutes": 10,
		"git": map[string]any{"repository": "", "branch": "", "commit": ""}}
	inference := map[string]any{}
	for k, v := range job {
		inference[k] = v
	}
	inference["parent_ids"] = []any{o.jobs["training"].ID}
	return map[string]map[string]any{
		"apiToken":                   {"username": "root", "password": "wrong-password", "tenant": "lab"},
		"apiTrainingCreate":          job,
		"apiInferenceCreate":         inference,
		"apiDatasetCreate":           {"name": "fuzz-set", "memo": "m", "entries": map[string]any{"training": []any{o.data.ID}}},
		"apiDatasetCopy":             {"name": "fuzz-copy"},
		"apiAdminTenantCreate":       {"name": "fuzz"},
		"apiAdminUserCreate":         {"username": "fuzz", "password": "a-long-password-9", "tenants": []any{map[string]any{"tenant": "lab", "role": "user"}}},
		"apiAdminTenantQuota":        {"cpu": 1, "memory_gb": 1, "gpu": 1},
		"apiAdminTenantSlurmAccount": {"account": "lab"},
		"apiAdminGitServerCreate":    {"name": "fuzzgit", "url": "https://git.example.net"},
		"apiAdminRegistryCreate":     {"name": "fuzzhub", "host": "hub.example.net"},
		"apiCredentialSet":           {"username": "u", "token": "t"},
	}
}

// sent is one request of the walk and what it answered.
type sent struct {
	desc   string
	status int
	err    error
}

// Every route, every method: hostile values in every path variable, query
// parameter, form field and JSON member the route reads, and bodies of the
// wrong type, never answer 5xx and never hang. The routes come from the
// router and the fields from the pages' forms and the API's documentation,
// so a route added later is covered without anyone listing it here.
func TestNoRouteFailsOnBadInput(t *testing.T) {
	w := newWorld(t)
	routes := routesOf(t, w.env.Router)
	b := w.env.Browser(t)
	b.SessionAs(w.lab.admin)
	forms := formsOf(t, w, b, routes)
	names := jsonNames(t)
	baselines := jsonBaselines(w)

	work := make(chan func())
	for range 4 {
		go func() {
			for do := range work {
				do()
			}
		}()
	}
	defer close(work)
	var mu sync.Mutex
	count := 0
	for _, r := range routes {
		c := newCaller(t, w)
		var wg sync.WaitGroup
		for _, q := range requestsFor(t, w, r, forms[r.name+" "+r.method], names, baselines[r.name]) {
			wg.Add(1)
			work <- func() {
				defer wg.Done()
				s := c.send(q)
				mu.Lock()
				defer mu.Unlock()
				count++
				if s.err != nil {
					t.Errorf("%s: %v", s.desc, s.err)
				} else if s.status >= 500 {
					t.Errorf("%s: %d", s.desc, s.status)
				}
			}
		}
		wg.Wait() // route by route, so the destructive ones come last
	}
	t.Logf("%d requests over %d routes", count, len(routes))
}

// request is one call of the walk.
type request struct {
	desc   string
	method string
	path   string
	query  url.Values
	ctype  string
	body   []byte
	csrf   bool // add the session's token (a form body: as its first field)
}

// requestsFor is every hostile request for route r.
func requestsFor(t *testing.T, w *world, r route, f form, jsonNames []string, baseline map[string]any) []request {
	t.Helper()
	good := func(v string) string { return w.fill(t, r, w.lab, v) }
	path := r.build(good)
	var out []request
	add := func(q request) {
		q.method, q.desc = r.method, r.String()+" "+q.desc
		if q.path == "" {
			q.path = path
		}
		out = append(out, q)
	}
	// Path variables.
	for _, v := range r.vars {
		for _, bad := range badValues {
			p := r.build(func(x string) string {
				if x == v {
					return bad.text
				}
				return good(x)
			})
			add(request{desc: "{" + v + "}=" + bad.name, path: p, csrf: true})
		}
		odd := []string{"..", "../../etc/passwd", "a/../../b", "%2e%2e", "/"}
		if dir, _, ok := strings.Cut(good(v), "/"); ok {
			odd = append(odd, dir) // a directory where a file is meant
		}
		for _, odd := range odd {
			p := r.build(func(x string) string {
				if x == v {
					return odd
				}
				return good(x)
			})
			add(request{desc: "{" + v + "}=" + odd, path: p, csrf: true})
		}
	}
	// Query parameters: a page's own (its GET forms' fields) with every
	// value, the generic names with the core ones; on other methods all
	// generic names at once.
	if r.method != http.MethodGet {
		for _, bad := range badValues {
			q := url.Values{}
			for _, name := range queryNames {
				q.Set(name, bad.text)
			}
			add(request{desc: "?all=" + bad.name, query: q, csrf: true})
		}
	} else {
		for _, name := range union(keys(f.fields), queryNames) {
			values := coreValues
			if f.fields.Has(name) {
				values = badValues
			}
			for _, bad := range values {
				q := cloneValues(f.fields)
				q.Set(name, bad.text)
				add(request{desc: "?" + name + "=" + bad.name, query: q})
			}
		}
		return out
	}
	// Bodies.
	if r.api() {
		own := leafPaths(baseline)
		for _, name := range union(own, jsonNames) {
			values := coreValues
			if contains(own, name) {
				values = badValues
			}
			for _, bad := range values {
				add(request{desc: "json " + name + "=" + bad.name, ctype: "application/json", body: jsonWith(baseline, name, bad.json)})
			}
		}
		for _, bad := range badValues {
			fields := url.Values{"name": {bad.text}, "memo": {bad.text}, "tags": {bad.text}}
			body, ctype := multipartBody(fields, bad.text, "x")
			add(request{desc: "multipart=" + bad.name, ctype: ctype, body: body})
		}
	} else {
		for _, name := range union(keys(f.fields), []string{"name", "memo", "tags", "ids", "id", "username", "password", "role"}) {
			values := coreValues
			if f.fields.Has(name) {
				values = badValues
			}
			for _, bad := range values {
				v := cloneValues(f.fields)
				v.Set(name, bad.text)
				if f.multipart {
					body, ctype := multipartBody(v, "a.txt", "x")
					add(request{desc: "multipart " + name + "=" + bad.name, ctype: ctype, body: body, csrf: true})
				} else {
					add(request{desc: "form " + name + "=" + bad.name, ctype: "application/x-www-form-urlencoded", body: []byte(v.Encode()), csrf: true})
				}
			}
		}
		if f.multipart {
			for _, bad := range append(badValues, badValue{name: "dotdot", text: "../../x"}, badValue{name: "backslash", text: `..\..\x`}) {
				body, ctype := multipartBody(cloneValues(f.fields), bad.text, "x")
				add(request{desc: "filename=" + bad.name, ctype: ctype, body: body, csrf: true})
			}
		}
	}
	// Bodies of the wrong type.
	for _, wrong := range []struct{ name, ctype, body string }{
		{"json", "application/json", `{"name": "x", "memo": [1, {"a": null}]}`},
		{"json-array", "application/json", `[1, 2, 3]`},
		{"json-deep", "application/json", strings.Repeat("[", 10000) + strings.Repeat("]", 10000)},
		{"not-json", "application/json", "name=x"},
		{"form", "application/x-www-form-urlencoded", "name=%00&memo=%FF&%00=x&a=%zz"},
		{"multipart-no-boundary", "multipart/form-data", "--x\r\n"},
		{"multipart-garbage", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc"},
		{"text", "text/plain", "\x00\xff"},
		{"none", "", "x"},
	} {
		add(request{desc: "body " + wrong.name, ctype: wrong.ctype, body: []byte(wrong.body), csrf: true})
	}
	return out
}

// caller sends requests as the lab's admin (the system administrator):
// a session of its own for the pages, a token for the API.
type caller struct {
	env    *portaltest.Env
	client *http.Client
	csrf   string
	token  string
}

func newCaller(t *testing.T, w *world) *caller {
	b := w.env.Browser(t)
	b.SessionAs(w.lab.admin)
	b.Client.Timeout = 20 * time.Second
	return &caller{env: w.env, client: b.Client, csrf: b.CSRF("/settings"), token: w.env.APIToken(t, w.lab.admin, w.lab.tenant.ID)}
}

func (c *caller) send(q request) sent {
	u := c.env.URL + q.path
	if len(q.query) > 0 {
		u += "?" + q.query.Encode()
	}
	body := q.body
	if q.csrf && !strings.HasPrefix(q.path, "/api/") {
		switch {
		case q.ctype == "application/x-www-form-urlencoded":
			body = append([]byte("csrf_token="+url.QueryEscape(c.csrf)+"&"), body...)
		}
	}
	req, err := http.NewRequest(q.method, u, bytes.NewReader(body))
	if err != nil {
		// A path the client refuses to send cannot reach the portal.
		return sent{desc: q.desc}
	}
	if q.ctype != "" {
		req.Header.Set("Content-Type", q.ctype)
	}
	if strings.HasPrefix(q.path, "/api/") {
		req.Header.Set("Authorization", "Bearer "+c.token)
	} else if q.csrf && q.ctype != "application/x-www-form-urlencoded" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return sent{desc: q.desc, err: err}
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return sent{desc: q.desc, status: resp.StatusCode}
}

// multipartBody is an upload: the fields, then one file.
func multipartBody(fields url.Values, filename, content string) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, k := range keys(fields) {
		for _, v := range fields[k] {
			mw.WriteField(k, v)
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+strings.ReplaceAll(filename, `"`, `%22`)+`"`)
	h.Set("Content-Type", "application/octet-stream")
	p, _ := mw.CreatePart(h)
	io.WriteString(p, content)
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

// uploadBody is a registration body for the fixtures.
func uploadBody(t *testing.T, fields map[string]string, filename, content string) (io.Reader, string) {
	v := url.Values{}
	for k, s := range fields {
		v.Set(k, s)
	}
	b, ctype := multipartBody(v, filename, content)
	return bytes.NewReader(b), ctype
}

// jsonWith is the baseline with the member at path (a.b for nested) set
// to the raw JSON value.
func jsonWith(baseline map[string]any, path, raw string) []byte {
	const mark = "\x01mark\x01"
	doc := deepCopy(baseline)
	m := doc
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = mark
	out, _ := json.Marshal(doc)
	return bytes.Replace(out, []byte(`"\u0001mark\u0001"`), []byte(raw), 1)
}

func deepCopy(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = deepCopy(sub)
		}
		out[k] = v
	}
	return out
}

// leafPaths are the members of a baseline, nested ones as a.b.
func leafPaths(m map[string]any) []string {
	var out []string
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			for _, p := range leafPaths(sub) {
				out = append(out, k+"."+p)
			}
			continue
		}
		out = append(out, k)
	}
	return out
}

func keys(v url.Values) []string {
	out := make([]string, 0, len(v))
	for k := range v {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		if vs != nil {
			out[k] = append([]string(nil), vs...)
		}
	}
	return out
}

func union(lists ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		for _, s := range l {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
