package web

import (
	"net/http"

	"kqi/portal/preprocess"
)

func (h *Handler) copyPreprocess(w http.ResponseWriter, r *http.Request) {
	p, ok := h.preprocessFromRoute(w, r)
	if !ok {
		return
	}
	v := visitorOf(r)
	cp, err := h.pre.Copy(r.Context(), preprocess.Actor{TenantID: v.Tenant.ID, UserID: v.User.ID}, p.ID)
	if h.failed(w, r, err, nil) {
		return
	}
	h.redirectToID(w, r, "preprocessDetail", cp.ID, "flash.preprocess_copied")
}
