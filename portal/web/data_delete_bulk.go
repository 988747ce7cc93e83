package web

import "net/http"

// deleteDataBulk deletes the checked data; the ones a frozen dataset holds
// are kept and named in the message.
func (h *Handler) deleteDataBulk(w http.ResponseWriter, r *http.Request) {
	kept, err := h.data.DeleteMany(r.Context(), visitorOf(r).Tenant.ID, checkedIDs(r))
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	if kept > 0 {
		h.redirect(w, r, "data", flashError, "data.some_frozen")
		return
	}
	h.redirect(w, r, "data", flashInfo, "flash.data_deleted")
}
