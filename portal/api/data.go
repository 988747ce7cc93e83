package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"kqi/portal/api/apitypes"
	"kqi/portal/data"
	"kqi/portal/input"
	"kqi/portal/refusal"
	"kqi/portal/transfer"
	"kqi/storage"
)

type fileBody = apitypes.File

type dataBody = apitypes.Data

func toDataBody(d *storage.Data) dataBody {
	b := dataBody{ID: d.ID, Name: d.Name, Memo: d.Memo, Tags: d.Tags, FileCount: d.FileCount, TotalSize: d.TotalSize,
		Frozen: d.Frozen, CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	if b.Tags == nil {
		b.Tags = []string{}
	}
	for _, f := range d.Files {
		b.Files = append(b.Files, fileBody{Name: f.Name, Size: f.Size})
	}
	return b
}

// createData registers data from a streamed multipart body.
func (h *Handler) createData(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	transfer.NoDeadline(w)
	mr, err := transfer.FormOf(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "the body must be multipart/form-data with name, memo, tags and file parts"})
		return
	}
	d, _, err := h.data.Register(r.Context(), data.Actor{TenantID: c.Tenant.ID, UserID: c.User.ID}, mr)
	if errors.Is(err, data.ErrUploadCut) {
		writeError(w, http.StatusBadRequest, "error.bad_upload")
		return
	}
	if h.failed(w, r, err) {
		return
	}
	h.log.Info("data registered", "tenant", c.Tenant.Name, "data_id", d.ID, "files", d.FileCount, "bytes", d.TotalSize)
	writeJSON(w, http.StatusCreated, toDataBody(d))
}

type listBody[T any] = apitypes.List[T]

// writeList answers a list: each item as body makes it, and how many
// there are in all.
func writeList[T, B any](w http.ResponseWriter, items []T, total int, body func(*T) B) {
	out := listBody[B]{Items: make([]B, 0, len(items)), Total: total}
	for i := range items {
		out.Items = append(out.Items, body(&items[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

// writePage answers one page of a list: its items as body makes them,
// the total and the cursors either side.
func writePage[T, B any](w http.ResponseWriter, p storage.Page[T], body func(*T) B) {
	out := listBody[B]{Items: make([]B, 0, len(p.Items)), Total: p.Total, Next: p.Next, Prev: p.Prev}
	for i := range p.Items {
		out.Items = append(out.Items, body(&p.Items[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

// badCursor answers a list asked with a cursor it did not give: 400, on
// the after or before parameter; false for any other error.
func badCursor(w http.ResponseWriter, r *http.Request, err error) bool {
	if !errors.Is(err, storage.ErrBadCursor) {
		return false
	}
	field := "after"
	if r.URL.Query().Get("after") == "" {
		field = "before"
	}
	writeRefusal(w, http.StatusBadRequest, refusal.Invalidf(field, "list.bad_cursor"))
	return true
}

// pageParam is the list page asked for; anything but a page number in
// range is the first page.
func pageParam(q map[string][]string) int {
	p, _ := input.Int(first(q["page"]), 1, input.MaxPage)
	return int(p)
}

func intParam(q map[string][]string, key string) int64 {
	v, _ := strconv.ParseInt(first(q[key]), 10, 64)
	return v
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func (h *Handler) listData(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	q := r.URL.Query()
	f := storage.DataFilter{Name: q.Get("name"), Memo: q.Get("memo"), Tag: q.Get("tag"),
		IDFrom: intParam(q, "id_from"), IDTo: intParam(q, "id_to"), Sort: q.Get("sort"), Desc: q.Get("desc") != "0",
		Page: pageParam(q), PerPage: int(intParam(q, "per_page")), After: q.Get("after"), Before: q.Get("before")}
	for key, dst := range map[string]*time.Time{"from": &f.CreatedFrom, "to": &f.CreatedTo} {
		if v := q.Get(key); v != "" {
			t, err := time.Parse("2006-01-02", v)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, errorBody{Error: key + " must be a date like 2026-01-31"})
				return
			}
			*dst = t
		}
	}
	if !f.CreatedTo.IsZero() {
		f.CreatedTo = f.CreatedTo.AddDate(0, 0, 1)
	}
	p, err := h.data.Page(r.Context(), c.Tenant.ID, f)
	if badCursor(w, r, err) {
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	writePage(w, p, toDataBody)
}

func routeID(r *http.Request) int64 {
	id, _ := strconv.ParseInt(mux.Vars(r)["id"], 10, 64)
	return id
}

func (h *Handler) getData(w http.ResponseWriter, r *http.Request) {
	d, err := h.data.Datum(r.Context(), callerOf(r).Tenant.ID, routeID(r))
	if h.failed(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, toDataBody(d))
}

func (h *Handler) deleteData(w http.ResponseWriter, r *http.Request) {
	if h.failed(w, r, h.data.Delete(r.Context(), callerOf(r).Tenant.ID, routeID(r))) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) downloadDataFile(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	f, err := h.data.Open(r.Context(), callerOf(r).Tenant.ID, routeID(r), name)
	if h.failed(w, r, err) {
		return
	}
	defer f.Close()
	transfer.ServeFile(w, r, name, f, false)
}

type datasetRequest = apitypes.DatasetRequest

type datasetBody = apitypes.Dataset

func toDatasetBody(d *storage.Dataset) datasetBody {
	b := datasetBody{ID: d.ID, Name: d.Name, Memo: d.Memo, Frozen: d.FrozenAt != nil, FrozenAt: d.FrozenAt,
		Counts: d.Counts, CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	if d.Entries != nil {
		b.Entries = map[string][]int64{}
		for _, a := range storage.Areas {
			b.Entries[a] = []int64{}
		}
		for _, e := range d.Entries {
			b.Entries[e.Area] = append(b.Entries[e.Area], e.DataID)
		}
	}
	return b
}

func (h *Handler) createDataset(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	var req datasetRequest
	if !decode(w, r, &req) {
		return
	}
	form := data.DatasetForm{Name: req.Name, Memo: req.Memo}
	for area, ids := range req.Entries {
		for _, id := range ids {
			form.Entries = append(form.Entries, storage.Entry{DataID: id, Area: strings.TrimSpace(area)})
		}
	}
	id, err := h.data.CreateDataset(r.Context(), data.Actor{TenantID: c.Tenant.ID, UserID: c.User.ID}, form)
	if h.failed(w, r, err) {
		return
	}
	h.writeDataset(w, r, id, http.StatusCreated)
}

func (h *Handler) writeDataset(w http.ResponseWriter, r *http.Request, id int64, status int) {
	d, err := h.data.Dataset(r.Context(), callerOf(r).Tenant.ID, id)
	if h.failed(w, r, err) {
		return
	}
	writeJSON(w, status, toDatasetBody(d))
}

func (h *Handler) getDataset(w http.ResponseWriter, r *http.Request) {
	h.writeDataset(w, r, routeID(r), http.StatusOK)
}

func (h *Handler) listDatasets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := h.data.DatasetPage(r.Context(), callerOf(r).Tenant.ID, storage.DatasetFilter{
		Name: q.Get("name"), Memo: q.Get("memo"), Sort: q.Get("sort"), Desc: q.Get("desc") != "0",
		Page: pageParam(q), PerPage: int(intParam(q, "per_page")), After: q.Get("after"), Before: q.Get("before")})
	if badCursor(w, r, err) {
		return
	}
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	writePage(w, p, toDatasetBody)
}

func (h *Handler) deleteDataset(w http.ResponseWriter, r *http.Request) {
	if h.failed(w, r, h.data.DeleteDataset(r.Context(), callerOf(r).Tenant.ID, routeID(r))) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type copyRequest = apitypes.CopyRequest

// copyDataset takes an optional {"name"}; an empty body is fine.
func (h *Handler) copyDataset(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	var req copyRequest
	if r.ContentLength != 0 && !decode(w, r, &req) {
		return
	}
	id, err := h.data.CopyDataset(r.Context(), data.Actor{TenantID: c.Tenant.ID, UserID: c.User.ID}, routeID(r), req.Name)
	if h.failed(w, r, err) {
		return
	}
	h.writeDataset(w, r, id, http.StatusCreated)
}
