package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"kqi/portal/jobs"
	"kqi/portal/preprocess"
	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/storage"
)

// runForm is the run form as typed: blank resources are the chosen
// preprocess's defaults.
type runForm struct {
	PreprocessID string
	DataIDs      []string
	MoreIDs      string // further ids typed in, comma- or space-separated
	Env          string
	Partition    string
	CPU          string
	MemoryGB     string
	GPU          string
	OpenHistory  bool
	Back         string // where to return when not opening the history
}

func parseRunForm(v url.Values) runForm {
	f := runForm{PreprocessID: v.Get("preprocess_id"), MoreIDs: v.Get("more_ids"), Env: v.Get("env"), Partition: v.Get("partition"),
		CPU: v.Get("cpu"), MemoryGB: v.Get("memory_gb"), GPU: v.Get("gpu"), OpenHistory: v.Get("open_history") == "1",
		Back: localBack(v.Get("back"))}
	seen := map[string]bool{}
	for _, s := range append(v["data_ids"], strings.FieldsFunc(f.MoreIDs, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })...) {
		if s = strings.TrimSpace(s); s != "" && !seen[s] {
			seen[s] = true
			f.DataIDs = append(f.DataIDs, s)
		}
	}
	return f
}

// run turns the form into a run of a preprocess with the given defaults.
func (f runForm) run(p *storage.Preprocess) (preprocess.Run, error) {
	var bad refusal.Fields
	num := func(field, s string, def int) int {
		s = strings.TrimSpace(s)
		if s == "" {
			return def
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			bad.Add(field, "training.not_a_number")
		}
		return n
	}
	run := preprocess.Run{Partition: f.Partition, CPU: num("cpu", f.CPU, p.Fields.CPU), MemoryGB: num("memory_gb", f.MemoryGB, p.Fields.MemoryGB),
		GPU: num("gpu", f.GPU, p.Fields.GPU)}
	for _, s := range f.DataIDs {
		id, ok := parseID(s)
		if !ok {
			bad.Add("data_ids", "preprocess.unknown_data")
			continue
		}
		run.DataIDs = append(run.DataIDs, id)
	}
	run.Env = jobs.ParseEnvLines(f.Env, &bad)
	return run, bad.Err()
}

// pickData is how many of the newest data the run form offers to check;
// others are entered by id.
const pickData = 100

type runFormData struct {
	Form         runForm
	Preprocess   *storage.Preprocess // the chosen one, if any
	Preprocesses []storage.Preprocess
	Data         []storage.Data // the chosen data that exist
	Others       []storage.Data // the newest of the rest, to pick from
	Partitions   []slurm.Partition
	Refusal      *refusal.Error
	Errors       map[string][]refusal.Field
	Pick         *pickView // the resource step's picture
}

// Selected reports whether preprocess id is the chosen one.
func (d runFormData) Selected(id int64) bool { return d.Form.PreprocessID == strconv.FormatInt(id, 10) }

func (h *Handler) renderRunForm(w http.ResponseWriter, r *http.Request, status int, f runForm, e *refusal.Error) {
	tenant := visitorOf(r).Tenant.ID
	d := runFormData{Form: f, Refusal: e}
	if e != nil {
		d.Errors = e.ByField()
	}
	var err error
	if d.Preprocesses, _, err = h.pre.List(r.Context(), tenant, storage.PreprocessFilter{Sort: "name", PerPage: 1000}); err != nil {
		h.serverError(w, r, err)
		return
	}
	if id, ok := parseID(f.PreprocessID); ok {
		if p, err := h.pre.Get(r.Context(), tenant, id); err == nil {
			d.Preprocess = p
		}
	}
	for _, s := range f.DataIDs {
		id, ok := parseID(s)
		if !ok {
			continue
		}
		if dt, err := h.data.Datum(r.Context(), tenant, id); err == nil {
			d.Data = append(d.Data, *dt)
		} else if !errors.Is(err, storage.ErrNotFound) {
			if _, isRefusal := refusal.Of(err); !isRefusal {
				h.serverError(w, r, err)
				return
			}
		}
	}
	recent, _, err := h.data.List(r.Context(), tenant, storage.DataFilter{Sort: "id", Desc: true, PerPage: pickData})
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	chosen := map[int64]bool{}
	for _, dt := range d.Data {
		chosen[dt.ID] = true
	}
	for _, dt := range recent {
		if !chosen[dt.ID] {
			d.Others = append(d.Others, dt)
		}
	}
	if d.Partitions, err = h.jobs.Partitions(r.Context()); err != nil {
		h.log.Warn("listing partitions", "error", err)
	}
	ask := pickFields{Partition: f.Partition, CPU: f.CPU, MemoryGB: f.MemoryGB, GPU: f.GPU}
	if d.Preprocess != nil { // blank resources are the preprocess's defaults
		def := func(s string, n int) string {
			if strings.TrimSpace(s) == "" {
				return strconv.Itoa(n)
			}
			return s
		}
		ask.CPU, ask.MemoryGB, ask.GPU = def(f.CPU, d.Preprocess.Fields.CPU), def(f.MemoryGB, d.Preprocess.Fields.MemoryGB), def(f.GPU, d.Preprocess.Fields.GPU)
	}
	if d.Pick, err = h.newPick(r, "run", h.path("preprocessRunForm"), ask, url.Values{}, true); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.renderPage(w, r, status, page{Name: "preprocess_run", Nav: "preprocessing", Title: "preprocess.run_title", Data: d})
}

// showPreprocessRun is the run form; preprocess_id, data_ids and back in
// the query preselect what the page it came from knows.
func (h *Handler) showPreprocessRun(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := parseRunForm(q)
	if q.Get("pick") == "1" {
		// The resources' check button: the form again, as typed.
		h.renderRunForm(w, r, http.StatusOK, f, nil)
		return
	}
	f.OpenHistory = true
	if p, err := h.preprocessOf(r, f.PreprocessID); err == nil && p != nil {
		f.CPU, f.MemoryGB, f.GPU = strconv.Itoa(p.Fields.CPU), strconv.Itoa(p.Fields.MemoryGB), strconv.Itoa(p.Fields.GPU)
	}
	h.renderRunForm(w, r, http.StatusOK, f, nil)
}

// preprocessOf is the tenant's preprocess of a form value, nil for none.
func (h *Handler) preprocessOf(r *http.Request, s string) (*storage.Preprocess, error) {
	id, ok := parseID(s)
	if !ok {
		return nil, nil
	}
	return h.pre.Get(r.Context(), visitorOf(r).Tenant.ID, id)
}

func (h *Handler) runPreprocess(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	r.ParseForm()
	f := parseRunForm(r.PostForm)
	again := func(e *refusal.Error) { h.renderRunForm(w, r, http.StatusUnprocessableEntity, f, e) }
	p, err := h.preprocessOf(r, f.PreprocessID)
	if err == nil && p == nil {
		err = refusal.Invalidf("preprocess_id", "preprocess.choose")
	}
	err = withEdge(r, err)
	var hs []*storage.History
	if err == nil {
		var run preprocess.Run
		if run, err = f.run(p); err == nil {
			hs, err = h.pre.Run(r.Context(), preprocess.Actor{TenantID: v.Tenant.ID, UserID: v.User.ID}, p.ID, run)
		}
	}
	if e, ok := refusal.Of(err); ok && e.Kind == refusal.Conflict {
		// "already run": the form stays, with the message pointing at the history.
		h.renderRunForm(w, r, http.StatusConflict, f, e)
		return
	}
	if h.failed(w, r, err, again) {
		return
	}
	h.log.Info("preprocess run", "preprocess", p.ID, "data", len(hs))
	if f.OpenHistory || f.Back == "" {
		h.redirectToEntryList(w, r, p.ID, flashInfo, "flash.preprocess_run")
		return
	}
	h.setFlash(w, flashInfo, "flash.preprocess_run")
	http.Redirect(w, r, f.Back, http.StatusSeeOther)
}

// preprocessChecked takes the data list's checked rows to the run form.
func (h *Handler) preprocessChecked(w http.ResponseWriter, r *http.Request) {
	q := url.Values{}
	for _, id := range checkedIDs(r) {
		q.Add("data_ids", strconv.FormatInt(id, 10))
	}
	q.Set("back", h.path("data"))
	http.Redirect(w, r, h.path("preprocessRunForm")+"?"+q.Encode(), http.StatusSeeOther)
}
