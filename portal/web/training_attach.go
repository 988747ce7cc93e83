package web

import (
	"errors"
	"net/http"

	"kqi/portal/jobs"
	"kqi/portal/refusal"
	"kqi/portal/transfer"
)

// attachTrainingFiles stores uploaded files in the job's attach directory.
func (h *Handler) attachTrainingFiles(w http.ResponseWriter, r *http.Request) {
	t, ok := h.trainingFromRoute(w, r)
	if !ok {
		return
	}
	transfer.NoDeadline(w)
	mr, err := multipartOf(r)
	if err != nil {
		h.renderError(w, r, http.StatusBadRequest, "error.bad_upload")
		return
	}
	err = h.jobs.AddAttachments(r.Context(), t, mr)
	if errors.Is(err, jobs.ErrUploadCut) {
		h.renderTraining(w, r, http.StatusBadRequest, t, "error.bad_upload")
		return
	}
	if h.failed(w, r, err, func(e *refusal.Error) {
		key, _ := e.Key()
		h.renderTraining(w, r, http.StatusBadRequest, t, key)
	}) {
		return
	}
	h.redirectToID(w, r, "trainingDetail", t.ID, "flash.files_added")
}
