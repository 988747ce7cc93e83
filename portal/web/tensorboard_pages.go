package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"kqi/portal/i18n"
	"kqi/portal/jobs"
	"kqi/storage"
)

// tensorBoardRoutes registers the TensorBoard pages and the metrics views
// (SPEC §5, §7); the proxy itself is tensorBoardProxyRoutes.
func (h *Handler) tensorBoardRoutes(r *mux.Router) {
	get, post := http.MethodGet, http.MethodPost
	r.HandleFunc("/tensorboards", h.startTensorBoard).Methods(post).Name("tensorboardCreate")
	r.HandleFunc("/tensorboards/{id:[0-9]+}", h.showTensorBoard).Methods(get).Name("tensorboardDetail")
	r.HandleFunc("/tensorboards/{id:[0-9]+}/state", h.tensorBoardStateJSON).Methods(get).Name("tensorboardState")
	r.HandleFunc("/tensorboards/{id:[0-9]+}/stop", h.stopTensorBoard).Methods(post).Name("tensorboardStop")
	r.HandleFunc("/trainings/{id:[0-9]+}/metrics", h.showTrainingMetrics).Methods(get).Name("trainingMetrics")
	r.HandleFunc("/trainings/compare", h.showCompare).Methods(get).Name("trainingCompare")
	r.HandleFunc("/trainings/compare", h.compareSelected).Methods(post).Name("trainingCompareSelected")
}

func (h *Handler) tensorBoardFromRoute(w http.ResponseWriter, r *http.Request) (*storage.Job, bool) {
	return fromRoute(h, w, r, func(ctx context.Context, tenantID, id int64) (*storage.Job, error) {
		return h.jobs.Job(ctx, tenantID, jobs.TensorBoard, id)
	})
}

// startTensorBoard starts (or finds) the visitor's TensorBoard over the
// checked trainings: from a training's page (one) or the list (several).
func (h *Handler) startTensorBoard(w http.ResponseWriter, r *http.Request) {
	v := visitorOf(r)
	ids := checkedIDs(r)
	if len(ids) == 0 {
		h.setFlash(w, flashError, "flash.tensorboard_none_selected")
		http.Redirect(w, r, h.path("trainings"), http.StatusSeeOther)
		return
	}
	tb, started, err := h.jobs.StartTensorBoard(r.Context(), jobs.Actor{TenantID: v.Tenant.ID, UserID: v.User.ID}, ids)
	if h.failed(w, r, err, nil) {
		return
	}
	if started {
		h.setFlash(w, flashInfo, "flash.tensorboard_started")
	}
	http.Redirect(w, r, h.path("tensorboardDetail", "id", strconv.FormatInt(tb.ID, 10)), http.StatusSeeOther)
}

type tensorBoardData struct {
	Job       *storage.Job
	State     string // jobs.TensorBoard…
	URL       string // the proxy's path
	Trainings []storage.Job
	Lost      int // trainings of the set deleted since
	IDs       []int64
	Idle      string
}

func (h *Handler) showTensorBoard(w http.ResponseWriter, r *http.Request) {
	tb, ok := h.tensorBoardFromRoute(w, r)
	if !ok {
		return
	}
	d := tensorBoardData{Job: tb, State: h.jobs.TensorBoardState(r.Context(), tb), URL: jobs.TensorBoardPath(tb.ID),
		Idle: h.jobs.Cfg.TensorBoard.Idle.String()}
	var err error
	if d.Trainings, err = h.jobs.Parents(r.Context(), tb); err != nil {
		h.serverError(w, r, err)
		return
	}
	if rec, err := h.jobs.Store.TensorBoardOf(r.Context(), tb.TenantID, tb.ID); err == nil {
		d.Lost = len(rec.TrainingIDs) - len(d.Trainings)
	}
	for _, t := range d.Trainings {
		d.IDs = append(d.IDs, t.ID)
	}
	h.renderPage(w, r, http.StatusOK, page{Name: "tensorboard_detail", Nav: "trainings", Title: "tensorboard.title", Data: d})
}

// tensorBoardState is what the TensorBoard page's script follows.
type tensorBoardState struct {
	State      string `json:"state"`
	StateText  string `json:"state_text"`
	Hint       string `json:"hint"`
	JobStatus  string `json:"job_status"`
	URL        string `json:"url"`
	SlurmJobID string `json:"slurm_job_id"`
	Node       string `json:"node"`
}

func (h *Handler) tensorBoardStateJSON(w http.ResponseWriter, r *http.Request) {
	tb, ok := h.tensorBoardFromRoute(w, r)
	if !ok {
		return
	}
	lang := visitorOf(r).Lang
	st := h.jobs.TensorBoardState(r.Context(), tb)
	status := i18n.T(lang, "status."+tb.Status)
	if c := i18n.Cause(lang, tb.Reason, tb.ReasonArg); c != "" {
		status += " — " + c
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(tensorBoardState{State: st, StateText: i18n.T(lang, "tensorboard.state_"+st),
		Hint: i18n.T(lang, "tensorboard.hint_"+st), JobStatus: status, URL: jobs.TensorBoardPath(tb.ID),
		SlurmJobID: tb.SlurmJobID, Node: tb.Node})
}

func (h *Handler) stopTensorBoard(w http.ResponseWriter, r *http.Request) {
	tb, ok := h.tensorBoardFromRoute(w, r)
	if !ok {
		return
	}
	if tb.Active() && !tb.StopRequested {
		if h.failed(w, r, h.jobs.Stop(r.Context(), tb.TenantID, jobs.TensorBoard, tb.ID), nil) {
			return
		}
		h.setFlash(w, flashInfo, "flash.tensorboard_stopping")
	}
	http.Redirect(w, r, h.path("tensorboardDetail", "id", strconv.FormatInt(tb.ID, 10)), http.StatusSeeOther)
}
