package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"kqi/portal/i18n"
	"kqi/portal/refusal"
	"kqi/storage"
	"kqi/templates"
)

// views holds every page parsed once at start-up, per language, so the
// translation function is bound without per-request parsing.
type views struct {
	pages map[string]map[string]*template.Template // lang → page → template
}

// parseViews parses, per language, one set per page: the layout, the page
// and only the partials they call. Each set holds its own copy of every
// template in it, so every partial in every page held 25 MB, half the
// portal's memory at rest.
func parseViews(router *mux.Router) (*views, error) {
	files, err := fs.Glob(templates.FS, "pages/*.html")
	if err != nil {
		return nil, err
	}
	shared, err := fs.Glob(templates.FS, "partials/*.html")
	if err != nil {
		return nil, err
	}
	idx, err := indexTemplates(append([]string{"layout.html"}, shared...))
	if err != nil {
		return nil, err
	}
	sets := map[string][]string{}
	for _, f := range files {
		if sets[f], err = idx.setOf(f); err != nil {
			return nil, err
		}
	}
	v := &views{pages: map[string]map[string]*template.Template{}}
	for _, lang := range i18n.Languages {
		v.pages[lang] = map[string]*template.Template{}
		for _, f := range files {
			t, err := template.New("layout.html").Funcs(funcs(router, lang)).ParseFS(templates.FS, sets[f]...)
			if err != nil {
				return nil, fmt.Errorf("web: parse %s: %w", f, err)
			}
			v.pages[lang][strings.TrimSuffix(path.Base(f), ".html")] = t
		}
	}
	return v, nil
}

// templateIndex says which shared file defines each template name and
// which names each file calls.
type templateIndex struct {
	definedIn map[string]string   // name → shared file
	calls     map[string][]string // file → names it calls
}

var (
	templateDefs  = regexp.MustCompile(`\{\{-?\s*(?:define|block)\s+"([^"]+)"`)
	templateCalls = regexp.MustCompile(`\{\{-?\s*(?:template|block)\s+"([^"]+)"`)
)

func templateNames(re *regexp.Regexp, src []byte) []string {
	var names []string
	for _, m := range re.FindAllSubmatch(src, -1) {
		names = append(names, string(m[1]))
	}
	return names
}

func indexTemplates(shared []string) (*templateIndex, error) {
	idx := &templateIndex{definedIn: map[string]string{}, calls: map[string][]string{}}
	for _, f := range shared {
		src, err := fs.ReadFile(templates.FS, f)
		if err != nil {
			return nil, err
		}
		for _, name := range templateNames(templateDefs, src) {
			if other, dup := idx.definedIn[name]; dup && other != f {
				return nil, fmt.Errorf("web: template %q is defined in %s and %s", name, other, f)
			}
			idx.definedIn[name] = f
		}
		idx.calls[f] = templateNames(templateCalls, src)
	}
	return idx, nil
}

// setOf lists the files of page's set: the layout, every shared file a
// call reaches from the layout or the page, and the page last (its
// definitions win over the partials' blocks).
func (idx *templateIndex) setOf(page string) ([]string, error) {
	src, err := fs.ReadFile(templates.FS, page)
	if err != nil {
		return nil, err
	}
	own := map[string]bool{}
	for _, name := range templateNames(templateDefs, src) {
		own[name] = true
	}
	in := map[string]bool{"layout.html": true}
	set := []string{"layout.html"}
	todo := append(templateNames(templateCalls, src), idx.calls["layout.html"]...)
	for len(todo) > 0 {
		name := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		f, ok := idx.definedIn[name]
		switch {
		case !ok && own[name]:
			continue
		case !ok:
			return nil, fmt.Errorf("web: %s calls template %q, which no file defines", page, name)
		case in[f]:
			continue
		}
		in[f] = true
		set = append(set, f)
		todo = append(todo, idx.calls[f]...)
	}
	return append(set, page), nil
}

func funcs(router *mux.Router, lang string) template.FuncMap {
	return template.FuncMap{
		"t": func(key string, args ...any) string { return i18n.T(lang, key, args...) },
		// kt is one of a job kind's own messages: {kind}.{key}.
		"kt": func(kind, key string, args ...any) string { return i18n.T(lang, kind+"."+key, args...) },
		"route": func(name string, pairs ...any) (string, error) {
			r := router.Get(name)
			if r == nil {
				return "", fmt.Errorf("unknown route %q", name)
			}
			strs := make([]string, len(pairs))
			for i, p := range pairs {
				strs[i] = fmt.Sprint(p)
			}
			u, err := r.URL(strs...)
			if err != nil {
				return "", err
			}
			return u.String(), nil
		},
		"datetime":    datetime,
		"bytes":       humanBytes,
		"previewable": IsPreviewable,
		"join":        strings.Join,
		"statuses":    func() []string { return Statuses },
		"cause":       func(code, arg string) string { return i18n.Cause(lang, code, arg) },
		"number":      number,
		"logHTML":     logHTML,
		"gb":          func(mb int) string { return strconv.FormatFloat(float64(mb)/1000, 'f', -1, 64) },
	}
}

// page is what every template receives: the layout's needs plus the
// page's own Data.
type page struct {
	Name    string // template name
	Nav     string // route name of the active nav section
	Title   string // catalog key
	Lang    string
	User    *storage.User
	Tenant  *storage.Tenant
	Role    storage.Role
	Tenants []storage.Membership
	CSRF    string
	Flash   *flash
	Data    any
}

// render shows a page whose nav section is its own name.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	h.renderPage(w, r, status, page{Name: name, Nav: name, Title: title, Data: data})
}

// renderPage fills in the visitor's part of p and executes it into a buffer
// first, so a template error never sends half a page.
func (h *Handler) renderPage(w http.ResponseWriter, r *http.Request, status int, p page) {
	v := visitorOf(r)
	p.Lang, p.User, p.Tenant, p.Role, p.Tenants, p.CSRF = v.Lang, v.User, v.Tenant, v.Role, v.Memberships, v.CSRF
	p.Flash = h.takeFlash(w, r)
	lang := p.Lang
	if _, ok := h.views.pages[lang]; !ok {
		lang = i18n.Default
	}
	t, ok := h.views.pages[lang][p.Name]
	if !ok {
		h.serverError(w, r, fmt.Errorf("web: no template %q", p.Name))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		h.serverError(w, r, fmt.Errorf("web: render %s: %w", p.Name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderError shows a page with a translated message and the status code.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, status int, msgKey string) {
	h.render(w, r, status, "error", "error.title", errorData{Status: status, Message: msgKey})
}

type errorData struct {
	Status  int
	Message string // catalog key
	Arg     string // fills the message's %s
}

// serverError logs the cause and shows a generic page: never a stack trace
// or an internal message.
func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	status, key := http.StatusInternalServerError, "error.internal"
	if storage.Unreachable(err) {
		status, key = http.StatusServiceUnavailable, "error.unavailable"
	}
	if h.views == nil {
		http.Error(w, http.StatusText(status), status)
		return
	}
	h.renderError(w, r, status, key)
}

// failed answers err, if any, and reports whether it did. A refusal the
// caller's form can show (an invalid request, or any reason tied to a
// field) goes to again, which shows the form again with the reasons and
// what was typed. The rest is the error page: 404 for not found (another
// tenant's objects included), 409 with the message for a conflict, 422 for
// an invalid request when there is no form (again is nil), 500 for
// anything else.
func (h *Handler) failed(w http.ResponseWriter, r *http.Request, err error, again func(*refusal.Error)) bool {
	if err == nil {
		return false
	}
	e, ok := refusal.Of(err)
	if ok && e.Kind == refusal.NoSpace {
		h.log.Error("the file store is full", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	switch {
	case !ok:
		h.serverError(w, r, err)
	case e.Kind == refusal.NotFound:
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
	case again != nil && (e.Kind == refusal.Invalid || e.Kind == refusal.NoSpace || namesField(e)):
		again(e)
	default:
		key, arg := e.Key()
		h.render(w, r, e.HTTPStatus(), "error", "error.title", errorData{Status: e.HTTPStatus(), Message: key, Arg: arg})
	}
	return true
}

func namesField(e *refusal.Error) bool {
	for _, f := range e.Fields {
		if f.Field != "" {
			return true
		}
	}
	return false
}

// NotFound renders the 404 page; the server uses it for unknown paths.
func (h *Handler) NotFound(w http.ResponseWriter, r *http.Request) {
	h.withSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
	})).ServeHTTP(w, r)
}

// humanBytes formats a size for people: 1.5 MiB, 200 B.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// datetime shows a time (or a *time.Time; nil shows as nothing) as a
// <time> element in UTC; the page's script rewrites it in the reader's own
// time zone, so pages without script still read correctly.
func datetime(v any) template.HTML {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return ""
		}
		t = *x
	default:
		return ""
	}
	t = t.UTC()
	return template.HTML(`<time datetime="` + t.Format(time.RFC3339) + `">` + t.Format(timeText) + `</time>`)
}

// timeText is how a time reads before the page's script shows it in the
// visitor's time zone (and without JavaScript).
const timeText = "2006-01-02 15:04 UTC"

// number shows a job's output value as it was written (shortest exact
// form), "—" for none.
func number(v *float64) string {
	if v == nil {
		return "—"
	}
	return strconv.FormatFloat(*v, 'g', -1, 64)
}
