package preprocess

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"

	"kqi/portal/data"
	"kqi/portal/jobs"
	"kqi/portal/refusal"
	"kqi/portal/transfer"
	"kqi/storage"
	"kqi/storage/files"
)

// The external workflow: the user runs a preprocess outside the cluster,
// opens a history entry for the datum, uploads each result as a new datum
// into it, and completes it. Until then nothing of it is data: uploads
// wait in the entry's directory ({name}/…), and completing registers them
// all at once exactly as an in-cluster run's outputs.

// uploadsDir is where an external entry's uploads wait.
func uploadsDir(tenantID, historyID int64) string {
	return "tenants/" + strconv.FormatInt(tenantID, 10) + "/preprocess-uploads/" + strconv.FormatInt(historyID, 10)
}

// Open opens an external entry of preprocess id for a datum of the tenant.
func (s *Service) Open(ctx context.Context, who Actor, id, dataID int64) (*storage.History, error) {
	h, err := s.Store.OpenHistory(ctx, who.TenantID, who.UserID, id, dataID, func(hid int64) string { return uploadsDir(who.TenantID, hid) })
	var exists *storage.HistoryExistsError
	switch {
	case errors.As(err, &exists):
		return nil, refusal.Conflictf("preprocess.already_run", strconv.FormatInt(dataID, 10))
	case errors.Is(err, storage.ErrUnknownPreprocess):
		return nil, refusal.Missing()
	case errors.Is(err, storage.ErrUnknownData):
		return nil, refusal.Invalidf("data_id", "preprocess.unknown_data")
	}
	return h, err
}

// openEntry returns an external entry that is still open.
func (s *Service) openEntry(ctx context.Context, tenantID, id, dataID int64) (*storage.History, error) {
	h, err := s.History(ctx, tenantID, id, dataID)
	if err != nil {
		return nil, err
	}
	if h.Job != nil || h.External != "open" || h.Registered {
		return nil, refusal.Conflictf("preprocess.entry_closed")
	}
	return h, nil
}

// Upload reads one result of an open entry from a multipart body: the
// field `name` (the new datum's name, first) and any number of `file`
// parts. The files stream into a temporary directory of the entry, which
// Complete ignores, and are linked under the result's name only once the
// body is whole: an upload cut off or refused leaves nothing, and never
// half a result.
func (s *Service) Upload(ctx context.Context, who Actor, id, dataID int64, mr *transfer.Form) (string, []storage.NewFile, error) {
	h, err := s.openEntry(ctx, who.TenantID, id, dataID)
	if err != nil {
		return "", nil, err
	}
	tmp := h.Dir + "/" + files.TempPrefix + randomHex()
	defer func() {
		if rerr := s.Files.RemoveAll(context.WithoutCancel(ctx), tmp); rerr != nil {
			s.Log.Error("removing an upload's temporary directory", "dir", tmp, "error", rerr)
		}
	}()
	name, written, err := s.receive(ctx, h, tmp, mr)
	if err != nil {
		return "", nil, err
	}
	if err := s.free(ctx, h, name); err != nil {
		return "", nil, err
	}
	dir := h.Dir + "/" + name
	if err := s.Files.MkdirAll(ctx, dir); err != nil {
		return "", nil, err
	}
	for _, f := range written {
		if err := s.Files.Link(ctx, tmp+"/"+f.Name, dir+"/"+f.Name); err != nil {
			if rerr := s.Files.RemoveAll(context.WithoutCancel(ctx), dir); rerr != nil {
				s.Log.Error("removing a half-linked upload", "dir", dir, "error", rerr)
			}
			return "", nil, err
		}
	}
	return name, written, nil
}

// free refuses a result name the entry has already.
func (s *Service) free(ctx context.Context, h *storage.History, name string) error {
	_, err := s.Files.Stat(ctx, h.Dir+"/"+name)
	switch {
	case err == nil:
		return refusal.Invalidf("name", "preprocess.output_exists", name)
	case errors.Is(err, files.ErrNotExist):
		return nil
	default:
		return err
	}
}

// receive streams the body's files into tmp and returns the result's name.
func (s *Service) receive(ctx context.Context, h *storage.History, tmp string, mr *transfer.Form) (string, []storage.NewFile, error) {
	var name string
	var written []storage.NewFile
	seen := map[string]bool{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, fmt.Errorf("%w: %v", data.ErrUploadCut, err)
		}
		file := part.FileName()
		switch {
		case part.FormName() == "name" && file == "":
			if name != "" {
				return "", nil, refusal.Invalidf("name", "preprocess.name_twice")
			}
			b, err := io.ReadAll(io.LimitReader(part, 256))
			if err != nil {
				return "", nil, fmt.Errorf("%w: %v", data.ErrUploadCut, err)
			}
			name = string(b)
			if !jobs.OutputName.MatchString(name) {
				return "", nil, refusal.Invalidf("name", "preprocess.bad_output_name", name)
			}
			if err := s.free(ctx, h, name); err != nil {
				return "", nil, err
			}
		case part.FormName() != "file":
			return "", nil, refusal.Invalidf(part.FormName(), "data.unexpected_file_field", part.FormName())
		case name == "":
			return "", nil, refusal.Invalidf("name", "preprocess.name_first")
		case file == "":
			continue
		default:
			if err := files.CheckName(file); err != nil || files.IsTemp(file) {
				return "", nil, refusal.Invalidf("file", "data.bad_file_name", file)
			}
			if seen[file] {
				return "", nil, refusal.Invalidf("file", "data.duplicate_file", file)
			}
			seen[file] = true
			size, err := s.Files.Put(ctx, tmp+"/"+file, part)
			if err != nil {
				return "", nil, fmt.Errorf("%w: %s: %v", data.ErrUploadCut, file, err)
			}
			written = append(written, storage.NewFile{Name: file, Size: size})
		}
	}
	if name == "" {
		return "", nil, refusal.Invalidf("name", "preprocess.name_first")
	}
	if len(written) == 0 {
		return "", nil, refusal.Invalidf("file", "data.file_required")
	}
	return name, written, nil
}

func randomHex() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Complete closes an open entry: its uploads become data, linked to it.
func (s *Service) Complete(ctx context.Context, who Actor, id, dataID int64) (*storage.History, error) {
	h, err := s.openEntry(ctx, who.TenantID, id, dataID)
	if err != nil {
		return nil, err
	}
	err = s.Jobs.RegisterOutputs(ctx, h, h.Dir, who.UserID)
	var bad *jobs.OutputError
	if errors.As(err, &bad) {
		return nil, refusal.Invalidf("outputs", "preprocess.outputs_refused", bad.Error())
	}
	if err != nil && !errors.Is(err, files.ErrNotExist) {
		return nil, err
	}
	if errors.Is(err, files.ErrNotExist) {
		// Nothing was uploaded: an entry with no outputs.
		if _, err := s.Store.RegisterOutputs(ctx, h.ID, nil); err != nil {
			return nil, err
		}
	}
	if err := s.Files.RemoveAll(context.WithoutCancel(ctx), h.Dir); err != nil {
		s.Log.Warn("removing a completed entry's uploads", "dir", h.Dir, "error", err)
	}
	return s.History(ctx, who.TenantID, id, dataID)
}
