package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"kqi/portal/preprocess"
	"kqi/portal/refusal"
	"kqi/storage"
)

// preprocessRoutes registers the preprocessing pages (SPEC §3): the list
// (the nav's "preprocessing"), a definition's page (its edit form), its
// history, and the run form, reached from the list, a definition, a datum
// or the data list's checked rows.
func (h *Handler) preprocessRoutes(r *mux.Router) {
	get, post := http.MethodGet, http.MethodPost
	r.HandleFunc("/preprocessing", h.showPreprocessList).Methods(get).Name("preprocessing")
	r.HandleFunc("/preprocessing/new", h.showPreprocessNew).Methods(get).Name("preprocessNew")
	r.Handle("/preprocessing", keepsForm(h.createPreprocess)).Methods(post).Name("preprocessCreate")
	r.HandleFunc("/preprocessing/run", h.showPreprocessRun).Methods(get).Name("preprocessRunForm")
	r.Handle("/preprocessing/run", keepsForm(h.runPreprocess)).Methods(post).Name("preprocessRun")
	r.HandleFunc("/data/preprocess", h.preprocessChecked).Methods(post).Name("dataPreprocess")
	one := "/preprocessing/{id:[0-9]+}"
	r.HandleFunc(one, h.showPreprocess).Methods(get).Name("preprocessDetail")
	r.Handle(one, keepsForm(h.updatePreprocess)).Methods(post).Name("preprocessUpdate")
	r.HandleFunc(one+"/copy", h.copyPreprocess).Methods(post).Name("preprocessCopy")
	r.HandleFunc(one+"/delete", h.deletePreprocess).Methods(post).Name("preprocessDelete")
	r.HandleFunc(one+"/histories", h.showHistories).Methods(get).Name("preprocessHistories")
	entry := one + "/histories/{data:[0-9]+}"
	r.HandleFunc(entry+"/log", h.downloadHistoryLog).Methods(get).Name("preprocessHistoryLog")
	r.HandleFunc(entry+"/stop", h.stopHistory).Methods(post).Name("preprocessHistoryStop")
	r.HandleFunc(entry+"/delete", h.deleteHistory).Methods(post).Name("preprocessHistoryDelete")
	r.HandleFunc(entry+"/shell", h.showHistoryShell).Methods(get).Name("preprocessHistoryShell")
	r.HandleFunc(entry+"/shell/ws", h.historyShellSocket).Methods(get).Name("preprocessHistoryShellSocket")
}

// preprocessFromRoute loads the route's preprocess of the visitor's tenant.
func (h *Handler) preprocessFromRoute(w http.ResponseWriter, r *http.Request) (*storage.Preprocess, bool) {
	return fromRoute(h, w, r, h.pre.Get)
}

// entryFromRoute is the route's history entry: {id} the preprocess,
// {data} the datum.
func (h *Handler) entryFromRoute(w http.ResponseWriter, r *http.Request) (*storage.History, bool) {
	id, ok1 := parseID(mux.Vars(r)["id"])
	dataID, ok2 := parseID(mux.Vars(r)["data"])
	if !ok1 || !ok2 {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
		return nil, false
	}
	e, err := h.pre.History(r.Context(), visitorOf(r).Tenant.ID, id, dataID)
	if h.failed(w, r, err, nil) {
		return nil, false
	}
	return e, true
}

// preprocessForm is a definition form as typed.
type preprocessForm struct {
	Name, Command, Memo, Image, GitRepository, GitBranch, GitCommit, CPU, MemoryGB, GPU string
}

func parsePreprocessForm(r *http.Request) preprocessForm {
	r.ParseForm()
	return preprocessFormFrom(r.PostForm)
}

// preprocessFormFrom reads the form from values (a picker's GET has them
// in the query).
func preprocessFormFrom(vals url.Values) preprocessForm {
	v := vals.Get
	return preprocessForm{Name: v("name"), Command: v("command"), Memo: v("memo"), Image: v("image"),
		GitRepository: v("git_repository"), GitBranch: v("git_branch"), GitCommit: v("git_commit"),
		CPU: v("cpu"), MemoryGB: v("memory_gb"), GPU: v("gpu")}
}

func preprocessFormOf(f preprocess.Fields) preprocessForm {
	return preprocessForm{Name: f.Name, Command: f.Command, Memo: f.Memo, Image: f.Image,
		GitRepository: f.GitRepository, GitBranch: f.GitBranch, GitCommit: f.GitCommit,
		CPU: strconv.Itoa(f.CPU), MemoryGB: strconv.Itoa(f.MemoryGB), GPU: strconv.Itoa(f.GPU)}
}

// fields turns the form into fields, refusing numbers that are not and
// everything preprocess.Check refuses, all at once.
func (f preprocessForm) fields() (preprocess.Fields, error) {
	var bad refusal.Fields
	num := func(field, s string) int {
		s = strings.TrimSpace(s)
		if s == "" {
			return 0
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			bad.Add(field, "training.not_a_number")
		}
		return n
	}
	out := preprocess.Fields{Name: f.Name, Command: f.Command, Memo: f.Memo, Image: f.Image,
		GitRepository: f.GitRepository, GitBranch: f.GitBranch, GitCommit: f.GitCommit,
		CPU: num("cpu", f.CPU), MemoryGB: num("memory_gb", f.MemoryGB), GPU: num("gpu", f.GPU)}
	preprocess.Check(&out, &bad)
	return out, bad.Err()
}

// redirectTo sends the browser to a route with {id} after a change.
func (h *Handler) redirectToEntryList(w http.ResponseWriter, r *http.Request, preprocessID int64, kind, msg string) {
	h.setFlash(w, kind, msg)
	http.Redirect(w, r, h.path("preprocessHistories", "id", strconv.FormatInt(preprocessID, 10)), http.StatusSeeOther)
}

// localBack is a same-site path to return to, or "" (never another host).
func localBack(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(s, "//") || strings.Contains(s, "\\") {
		return ""
	}
	return s
}
