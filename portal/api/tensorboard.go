package api

import (
	"net/http"

	"github.com/gorilla/mux"

	"kqi/portal/i18n"
	"kqi/portal/jobs"
	"kqi/storage"
)

// tensorBoardRoutes registers /tensorboards and a training's metrics.
func (h *Handler) tensorBoardRoutes(r *mux.Router) {
	r.HandleFunc("/tensorboards", h.createTensorBoard).Methods(http.MethodPost).Name("apiTensorboardCreate")
	r.HandleFunc("/tensorboards/{id:[0-9]+}", h.getTensorBoard).Methods(http.MethodGet).Name("apiTensorboard")
	r.HandleFunc("/tensorboards/{id:[0-9]+}", h.stopTensorBoard).Methods(http.MethodDelete).Name("apiTensorboardDelete")
	r.HandleFunc("/trainings/{id:[0-9]+}/metrics", h.trainingMetrics).Methods(http.MethodGet).Name("apiTrainingMetrics")
}

type tensorBoardBody struct {
	ID          int64   `json:"id"`
	Status      string  `json:"status"` // starting, ready, stopped
	URL         string  `json:"url"`    // the portal path it is reached at
	Reused      bool    `json:"reused"` // an already running one for the same set
	TrainingIDs []int64 `json:"training_ids"`
	JobStatus   string  `json:"job_status"` // the Slurm job's status, as for any job
	Reason      string  `json:"reason,omitempty"`
	SlurmJobID  string  `json:"slurm_job_id"`
}

func (h *Handler) tensorBoardBody(r *http.Request, j *storage.Job) tensorBoardBody {
	b := tensorBoardBody{ID: j.ID, Status: h.jobs.TensorBoardState(r.Context(), j), URL: jobs.TensorBoardPath(j.ID),
		TrainingIDs: j.ParentIDs, JobStatus: j.Status, Reason: i18n.Cause("en", j.Reason, j.ReasonArg), SlurmJobID: j.SlurmJobID}
	if b.TrainingIDs == nil {
		b.TrainingIDs = []int64{}
	}
	return b
}

// createTensorBoard starts a TensorBoard over training_ids, or answers
// the caller's running one for the same set (reused).
func (h *Handler) createTensorBoard(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	var body struct {
		TrainingIDs []int64 `json:"training_ids"`
	}
	if !decode(w, r, &body) {
		return
	}
	j, started, err := h.jobs.StartTensorBoard(r.Context(), jobs.Actor{TenantID: c.Tenant.ID, UserID: c.User.ID}, body.TrainingIDs)
	if h.failed(w, r, err) {
		return
	}
	b := h.tensorBoardBody(r, j)
	b.Reused = !started
	writeJSON(w, http.StatusCreated, b)
}

func (h *Handler) tensorBoardOf(w http.ResponseWriter, r *http.Request) (*storage.Job, bool) {
	j, err := h.jobs.Job(r.Context(), callerOf(r).Tenant.ID, jobs.TensorBoard, routeID(r))
	return j, !h.failed(w, r, err)
}

func (h *Handler) getTensorBoard(w http.ResponseWriter, r *http.Request) {
	if j, ok := h.tensorBoardOf(w, r); ok {
		writeJSON(w, http.StatusOK, h.tensorBoardBody(r, j))
	}
}

// stopTensorBoard stops it (a stopped one stays stopped) and answers its
// state.
func (h *Handler) stopTensorBoard(w http.ResponseWriter, r *http.Request) {
	j, ok := h.tensorBoardOf(w, r)
	if !ok {
		return
	}
	if j.Active() && !j.StopRequested {
		if h.failed(w, r, h.jobs.Stop(r.Context(), j.TenantID, jobs.TensorBoard, j.ID)) {
			return
		}
		j.StopRequested = true
	}
	writeJSON(w, http.StatusOK, h.tensorBoardBody(r, j))
}

type metricsBody struct {
	Series any        `json:"series"`
	Notes  []noteBody `json:"notes"`
}

type noteBody struct {
	File    string `json:"file"`
	Message string `json:"message"`
}

// trainingMetrics answers the scalars a training has written so far.
func (h *Handler) trainingMetrics(w http.ResponseWriter, r *http.Request) {
	j, err := h.jobs.Job(r.Context(), callerOf(r).Tenant.ID, jobs.Training, routeID(r))
	if h.failed(w, r, err) {
		return
	}
	res, err := h.jobs.Metrics(r.Context(), j)
	if h.failed(w, r, err) {
		return
	}
	b := metricsBody{Series: res.Series, Notes: []noteBody{}}
	for _, n := range res.Notes {
		b.Notes = append(b.Notes, noteBody{File: n.File, Message: i18n.T("en", n.Key, n.File, n.Arg)})
	}
	writeJSON(w, http.StatusOK, b)
}
