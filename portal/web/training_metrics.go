package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"kqi/portal/jobs"
	"kqi/storage"
)

// trainingExtra is what a training's page shows beyond every job's: its
// metrics drawn live, and the visitor's TensorBoard over it.
type trainingExtra struct {
	Metrics          metricsView
	TensorBoard      *storage.Job // nil when the visitor has none running for it
	TensorBoardState string
}

func (h *Handler) trainingExtra(r *http.Request, t *storage.Job) any {
	v := visitorOf(r)
	x := trainingExtra{Metrics: h.trainingMetricsView(r, t)}
	tb, err := h.jobs.Store.FindTensorBoard(r.Context(), v.Tenant.ID, v.User.ID, []int64{t.ID})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.log.Warn("finding a tensorboard", "job", t.ID, "error", err)
	}
	if tb != nil {
		x.TensorBoard, x.TensorBoardState = tb, h.jobs.TensorBoardState(r.Context(), tb)
	}
	return x
}

func (h *Handler) trainingMetricsView(r *http.Request, t *storage.Job) metricsView {
	m := h.metricsOf(r.Context(), []storage.Job{*t})
	if t.Active() {
		m.Src = h.path("trainingMetrics", "id", strconv.FormatInt(t.ID, 10))
	}
	return m
}

// showTrainingMetrics answers the training page's script with its charts
// drawn again.
func (h *Handler) showTrainingMetrics(w http.ResponseWriter, r *http.Request) {
	t, ok := fromRoute(h, w, r, func(ctx context.Context, tenantID, id int64) (*storage.Job, error) {
		return h.jobs.Job(ctx, tenantID, jobs.Training, id)
	})
	if !ok {
		return
	}
	h.renderPart(w, r, "training_detail", "metrics_charts", h.trainingMetricsView(r, t))
}
