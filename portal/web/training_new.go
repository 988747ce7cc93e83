package web

import (
	"net/http"
	"strconv"

	"kqi/portal/jobs"
	"kqi/portal/refusal"
)

type trainingFormData struct {
	Form   jobs.TrainingForm
	Errors map[string][]refusal.Field
	jobs.Choices
}

func (h *Handler) renderTrainingForm(w http.ResponseWriter, r *http.Request, status int, d trainingFormData) {
	var err error
	if d.Choices, err = h.jobs.FormChoices(r.Context(), visitorOf(r).Tenant.ID, jobs.Training); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.renderPage(w, r, status, page{Name: "training_new", Nav: "trainings", Title: "training.new_title", Data: d})
}

// showTrainingNew shows an empty form, a copy of a training (?from=ID) or a
// child of one (?parent=ID, its settings as defaults).
func (h *Handler) showTrainingNew(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	form := jobs.TrainingForm{CPU: "1", MemoryGB: "1", GPU: "0"}
	q := r.URL.Query()
	if q.Get("use_parent") == "1" {
		// "Use its settings" on the form: the chosen parent's settings
		// become the defaults; the name typed so far is kept.
		q.Set("parent", q.Get("parent_id"))
	}
	for _, key := range []string{"from", "parent"} {
		id, ok := parseID(q.Get(key))
		if !ok {
			continue
		}
		src, err := h.jobs.Job(r.Context(), v.Tenant.ID, jobs.Training, id)
		if h.failed(w, r, err, nil) {
			return
		}
		form = jobs.TrainingFormFrom(src)
		if key == "parent" {
			form.ParentID = strconv.FormatInt(id, 10)
			form.Name = q.Get("name")
		}
	}
	h.renderTrainingForm(w, r, http.StatusOK, trainingFormData{Form: form})
}
