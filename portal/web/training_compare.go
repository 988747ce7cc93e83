package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"kqi/portal/jobs"
	"kqi/storage"
)

// maxCompared bounds the trainings one Compare draws.
const maxCompared = 12

// compareSelected turns the list's checked trainings into the Compare
// page's address.
func (h *Handler) compareSelected(w http.ResponseWriter, r *http.Request) {
	ids := checkedIDs(r)
	if len(ids) == 0 {
		h.setFlash(w, flashError, "flash.compare_none_selected")
		http.Redirect(w, r, h.path("trainings"), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, h.path("trainingCompare")+"?"+compareQuery(ids), http.StatusSeeOther)
}

func compareQuery(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return url.Values{"ids": {strings.Join(s, ",")}}.Encode()
}

// showCompare draws the metrics of several trainings on shared charts;
// with part=charts, only the charts (for the page's script). Ids that are
// not the tenant's trainings are left out, like ids that do not exist.
func (h *Handler) showCompare(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	var list []storage.Job
	var ids []int64
	active := false
	for _, s := range strings.Split(r.URL.Query().Get("ids"), ",") {
		id, ok := parseID(strings.TrimSpace(s))
		if !ok || len(list) >= maxCompared {
			continue
		}
		t, err := h.jobs.Job(r.Context(), v.Tenant.ID, jobs.Training, id)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		list, ids, active = append(list, *t), append(ids, id), active || t.Active()
	}
	if len(list) == 0 {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	m := h.metricsOf(r.Context(), list)
	if active {
		m.Src = h.path("trainingCompare") + "?" + compareQuery(ids) + "&part=charts"
	}
	if r.URL.Query().Get("part") == "charts" {
		h.renderPart(w, r, "training_compare", "metrics_charts", m)
		return
	}
	h.renderPage(w, r, http.StatusOK, page{Name: "training_compare", Nav: "trainings", Title: "metrics.compare_title", Data: m})
}
