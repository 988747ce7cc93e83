package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"kqi/portal/api/apitypes"
	"kqi/portal/data"
	"kqi/portal/jobs"
	"kqi/portal/transfer"
	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/files"
)

// editRoutes are the changes to what exists: a datum's notes and files, a
// dataset, a job's notes and attachments. PATCH bodies change only the
// members they carry.
func (h *Handler) editRoutes(in *mux.Router) {
	in.HandleFunc("/data/{id:[0-9]+}", h.patchData).Methods(http.MethodPatch).Name("apiDataUpdate")
	in.HandleFunc("/data/{id:[0-9]+}/files", h.addDataFiles).Methods(http.MethodPost).Name("apiDataFilesAdd")
	in.HandleFunc("/data/{id:[0-9]+}/files/{name:.+}", h.removeDataFile).Methods(http.MethodDelete).Name("apiDataFileDelete")
	in.HandleFunc("/datasets/{id:[0-9]+}", h.patchDataset).Methods(http.MethodPatch).Name("apiDatasetUpdate")
}

func (h *Handler) patchData(w http.ResponseWriter, r *http.Request) {
	var p apitypes.DataPatch
	if !decode(w, r, &p) {
		return
	}
	tenant, id := callerOf(r).Tenant.ID, routeID(r)
	d, err := h.data.Datum(r.Context(), tenant, id)
	if h.failed(w, r, err) {
		return
	}
	f := data.Form{Name: d.Name, Memo: d.Memo, Tags: d.Tags}
	if p.Name != nil {
		f.Name = *p.Name
	}
	if p.Memo != nil {
		f.Memo = *p.Memo
	}
	if p.Tags != nil {
		f.Tags = *p.Tags
	}
	if h.failed(w, r, h.data.Update(r.Context(), tenant, id, f)) {
		return
	}
	h.writeDatum(w, r, id, http.StatusOK)
}

func (h *Handler) writeDatum(w http.ResponseWriter, r *http.Request, id int64, status int) {
	d, err := h.data.Datum(r.Context(), callerOf(r).Tenant.ID, id)
	if h.failed(w, r, err) {
		return
	}
	writeJSON(w, status, toDataBody(d))
}

// addDataFiles streams more files into a datum; a cut body adds none.
func (h *Handler) addDataFiles(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	transfer.NoDeadline(w)
	mr, err := transfer.FormOf(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "the body must be multipart/form-data with file parts"})
		return
	}
	_, err = h.data.AddFiles(r.Context(), data.Actor{TenantID: c.Tenant.ID, UserID: c.User.ID}, routeID(r), mr)
	if errors.Is(err, data.ErrUploadCut) {
		writeError(w, http.StatusBadRequest, "error.bad_upload")
		return
	}
	if h.failed(w, r, err) {
		return
	}
	h.writeDatum(w, r, routeID(r), http.StatusCreated)
}

func (h *Handler) removeDataFile(w http.ResponseWriter, r *http.Request) {
	if h.failed(w, r, h.data.RemoveFile(r.Context(), callerOf(r).Tenant.ID, routeID(r), mux.Vars(r)["name"])) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) patchDataset(w http.ResponseWriter, r *http.Request) {
	var p apitypes.DatasetPatch
	if !decode(w, r, &p) {
		return
	}
	tenant, id := callerOf(r).Tenant.ID, routeID(r)
	d, err := h.data.Dataset(r.Context(), tenant, id)
	if h.failed(w, r, err) {
		return
	}
	f := data.DatasetForm{Name: d.Name, Memo: d.Memo}
	for _, e := range d.Entries {
		f.Entries = append(f.Entries, storage.Entry{DataID: e.DataID, Area: e.Area})
	}
	if p.Name != nil {
		f.Name = *p.Name
	}
	if p.Memo != nil {
		f.Memo = *p.Memo
	}
	if p.Entries != nil {
		f.Entries = nil
		for area, ids := range p.Entries {
			for _, id := range ids {
				f.Entries = append(f.Entries, storage.Entry{DataID: id, Area: strings.TrimSpace(area)})
			}
		}
	}
	if h.failed(w, r, h.data.UpdateDataset(r.Context(), tenant, id, f)) {
		return
	}
	h.writeDataset(w, r, id, http.StatusOK)
}

// patchNotes changes a job's memo, tags or favorite mark, at any time.
func (a *jobAPI) patchNotes(w http.ResponseWriter, r *http.Request) {
	var p apitypes.JobPatch
	if !decode(w, r, &p) {
		return
	}
	t, ok := a.job(w, r)
	if !ok {
		return
	}
	memo, tags, fav := t.Memo, t.Tags, t.Favorite
	if p.Memo != nil {
		memo = *p.Memo
	}
	if p.Tags != nil {
		tags = *p.Tags
	}
	if p.Favorite != nil {
		fav = *p.Favorite
	}
	if a.failed(w, r, a.jobs.UpdateNotes(r.Context(), t.TenantID, a.kind, t.ID, memo, tags, fav)) {
		return
	}
	a.get(w, r)
}

// attach stores uploaded files in the job's attach directory; a cut body
// leaves none of them.
func (a *jobAPI) attach(w http.ResponseWriter, r *http.Request) {
	t, ok := a.job(w, r)
	if !ok {
		return
	}
	if t.JobDir == "" {
		writeJSON(w, http.StatusConflict, errorBody{Error: "the job has no directory yet; try again once it is queued"})
		return
	}
	transfer.NoDeadline(w)
	mr, err := transfer.FormOf(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "the body must be multipart/form-data with file parts"})
		return
	}
	err = a.jobs.AddAttachments(r.Context(), t, mr)
	if errors.Is(err, jobs.ErrUploadCut) {
		writeError(w, http.StatusBadRequest, "error.bad_upload")
		return
	}
	if a.failed(w, r, err) {
		return
	}
	a.attachments(w, r)
}

func (a *jobAPI) attachments(w http.ResponseWriter, r *http.Request) {
	t, ok := a.job(w, r)
	if !ok {
		return
	}
	list, err := a.jobs.Attachments(r.Context(), t)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		status = http.StatusCreated
	}
	out := apitypes.List[apitypes.File]{Items: []apitypes.File{}}
	for _, f := range list {
		if !f.IsDir {
			out.Items = append(out.Items, apitypes.File{Name: f.Name, Size: f.Size})
		}
	}
	out.Total = len(out.Items)
	writeJSON(w, status, out)
}

// sendLog answers the job's log. With ?offset=N it sends the bytes from N
// to the end as the log is now, and X-Next-Offset says where to ask from
// next, so a follower never sees a byte twice; a log not written yet is
// then empty rather than 404.
func (a *jobAPI) sendLog(w http.ResponseWriter, r *http.Request) {
	raw, follow := r.URL.Query()["offset"]
	if !follow {
		a.sendJobText(w, r, func(ctx context.Context, t *storage.Job) (io.ReadCloser, error) {
			return a.jobs.OpenJobFile(ctx, t, slurm.LogFile)
		})
		return
	}
	offset, err := strconv.ParseInt(first(raw), 10, 64)
	if err != nil || offset < 0 {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "offset must be a byte offset (0 or more)"})
		return
	}
	t, ok := a.job(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	f, err := a.jobs.OpenJobFile(r.Context(), t, slurm.LogFile)
	if errors.Is(err, files.ErrNotExist) {
		w.Header().Set(apitypes.NextOffsetHeader, strconv.FormatInt(offset, 10))
		w.WriteHeader(http.StatusOK)
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	// Only what is there now is sent: the job may still be writing.
	start := min(offset, info.Size)
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		a.serverError(w, r, err)
		return
	}
	w.Header().Set(apitypes.NextOffsetHeader, strconv.FormatInt(max(info.Size, offset), 10))
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size-start, 10))
	transfer.NoDeadline(w)
	io.CopyN(w, f, info.Size-start)
}
