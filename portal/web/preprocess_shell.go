package web

import (
	"net/http"
	"strconv"

	"kqi/portal/jobs"
	"kqi/portal/shell"

	"github.com/gorilla/mux"
)

// showHistoryShell is the terminal page of a preprocessing task: the
// shell of its history entry's job.
func (h *Handler) showHistoryShell(w http.ResponseWriter, r *http.Request) {
	e, ok := h.entryFromRoute(w, r)
	if !ok {
		return
	}
	if h.shell == nil || e.Job == nil {
		h.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	id, data := strconv.FormatInt(e.PreprocessID, 10), strconv.FormatInt(e.DataID, 10)
	h.renderShell(w, r, "preprocessing", e.Job, shell.Login(jobs.Preprocess.Name(), e.ID),
		h.path("preprocessHistories", "id", id), h.path("preprocessHistoryShellSocket", "id", id, "data", data))
}

// historyShellSocket is a preprocessing task's terminal WebSocket, checked
// as every job's is.
func (h *Handler) historyShellSocket(w http.ResponseWriter, r *http.Request) {
	if h.shell == nil || !h.shellAllowed(w, r) {
		if h.shell == nil {
			http.NotFound(w, r)
		}
		return
	}
	id, ok1 := parseID(mux.Vars(r)["id"])
	dataID, ok2 := parseID(mux.Vars(r)["data"])
	v := visitorOf(r)
	e, err := h.pre.History(r.Context(), v.Tenant.ID, id, dataID)
	if !ok1 || !ok2 || err != nil || e.Job == nil {
		http.NotFound(w, r) // another tenant's, an external entry or none
		return
	}
	h.shell.ServeWebSocket(w, r, shell.Request{Job: e.Job, UserID: v.User.ID, Via: "web", RemoteAddr: h.auth.Limit.Client(r)}, v.Lang)
}
