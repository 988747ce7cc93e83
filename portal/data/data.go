// Package data holds the rules for registering data and datasets: how an
// upload is streamed into the file store and recorded only when complete,
// what a valid name, memo and tag is, and how a job's inputs are staged.
package data

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"unicode/utf8"

	"kqi/portal/input"
	"kqi/portal/refusal"
	"kqi/portal/transfer"
	"kqi/storage"
	"kqi/storage/files"
)

// Service registers and changes data and datasets of one tenant at a time.
type Service struct {
	Store *storage.Store
	Files files.FS
	Log   *slog.Logger
}

// Limits on what users type.
const (
	MaxNameLen = input.MaxName
	MaxMemoLen = input.MaxMemo
	MaxTagLen  = input.MaxTag
	MaxTags    = input.MaxTags
)

// Form is the text part of a data registration or edit, kept as typed so a
// refused form can be shown again.
type Form struct {
	Name string
	Memo string
	Tags []string
}

// TagsText joins the tags for a text input.
func (f Form) TagsText() string { return strings.Join(f.Tags, ", ") }

// check adds every reason the name, memo or tags are refused.
func (f Form) check(bad *refusal.Fields) {
	checkNameMemo(bad, f.Name, f.Memo, "data.name_required")
	checkTags(bad, f.Tags)
}

// checkNameMemo refuses an empty or too long name and a too long memo;
// requiredKey says which thing lacks a name.
func checkNameMemo(bad *refusal.Fields, name, memo, requiredKey string) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		bad.Add("name", requiredKey)
	case utf8.RuneCountInString(name) > MaxNameLen || !utf8.ValidString(name):
		bad.Add("name", "data.name_too_long")
	}
	if utf8.RuneCountInString(memo) > MaxMemoLen || !utf8.ValidString(memo) {
		bad.Add("memo", "data.memo_too_long")
	}
}

// DataDir is where a datum's files live in the file store.
func DataDir(tenantID, dataID int64) string {
	return "tenants/" + strconv.FormatInt(tenantID, 10) + "/data/" + strconv.FormatInt(dataID, 10)
}

// maxFilePathLen is PATH_MAX, for a file below a datum's directory.
const maxFilePathLen = 4096

// CheckFileName checks the name of a datum's file: one name, as uploads
// give them, or a path of names below the datum ("sub/a.png"), as a
// preprocess run writes them, each part a valid file name.
func CheckFileName(name string) error {
	if len(name) > maxFilePathLen {
		return fmt.Errorf("%w: file path is %d bytes long", files.ErrInvalidPath, len(name))
	}
	for _, part := range strings.Split(name, "/") {
		if err := files.CheckName(part); err != nil {
			return err
		}
	}
	return nil
}

// FilePath is where one file of a datum lives in the file store.
func FilePath(tenantID, dataID int64, name string) (string, error) {
	if err := CheckFileName(name); err != nil {
		return "", refusal.Invalidf("file", "data.bad_file_name", name)
	}
	return DataDir(tenantID, dataID) + "/" + name, nil
}

// Actor is who is registering: their tenant and user id.
type Actor struct {
	TenantID int64
	UserID   int64
}

// Register reads a multipart body — fields `name`, `memo`, `tags`
// (repeatable, comma-separated allowed) and one or more `file` parts — and
// streams each file into the file store under a reserved id. The datum is
// recorded only after the last byte arrived and everything is valid; on any
// failure the files written so far are removed, so nothing half-registered
// remains. The returned Form is what was typed, for showing the form again.
func (s *Service) Register(ctx context.Context, who Actor, mr *transfer.Form) (*storage.Data, Form, error) {
	var form Form
	id, err := s.Store.NextDataID(ctx)
	if err != nil {
		return nil, form, err
	}
	dir := DataDir(who.TenantID, id)
	// The directory is this upload's own (a fresh id): files go straight
	// to their names.
	written, err := s.readParts(ctx, mr, &form, func(name string) string { return dir + "/" + name }, nil)
	if err == nil {
		var bad refusal.Fields
		form.check(&bad)
		if len(written) == 0 {
			bad.Add("file", "data.file_required")
		}
		err = bad.Err()
	}
	if err == nil {
		err = s.Store.CreateData(ctx, storage.NewData{
			ID: id, TenantID: who.TenantID, Name: strings.TrimSpace(form.Name), Memo: form.Memo,
			Tags: form.Tags, CreatedBy: who.UserID, Files: newFiles(written),
		})
	}
	if err != nil {
		s.discard(dir)
		return nil, form, err
	}
	d, err := s.Store.DataByID(ctx, who.TenantID, id)
	return d, form, err
}

// AddFiles streams more `file` parts into an existing datum. Names already
// taken are refused before anything is written over them.
func (s *Service) AddFiles(ctx context.Context, who Actor, dataID int64, mr *transfer.Form) ([]storage.NewFile, error) {
	d, err := s.Store.DataByID(ctx, who.TenantID, dataID)
	if err != nil {
		return nil, err
	}
	if d.Frozen {
		return nil, refusal.Conflictf("data.frozen")
	}
	taken := map[string]bool{}
	for _, f := range d.Files {
		taken[f.Name] = true
	}
	dir := DataDir(who.TenantID, dataID)
	// Another request may add the same name at the same time: each file is
	// written under a name of its own, then hard-linked to its real name,
	// which fails rather than replaces when the name exists. Only then is it
	// recorded; nothing of another request is ever overwritten or removed.
	written, err := s.readParts(ctx, mr, nil, func(string) string { return dir + "/" + files.TempPrefix + "add-" + randomHex() }, taken)
	defer func() {
		for _, u := range written {
			s.Files.Remove(context.WithoutCancel(ctx), u.path)
		}
	}()
	if err == nil && len(written) == 0 {
		err = refusal.Invalidf("file", "data.file_required")
	}
	var linked []string
	for _, u := range written {
		if err != nil {
			break
		}
		if err = s.Files.Link(ctx, u.path, dir+"/"+u.name); err != nil {
			if _, statErr := s.Files.Stat(ctx, dir+"/"+u.name); statErr == nil {
				err = refusal.Invalidf("file", "data.duplicate_file", u.name)
			}
			break
		}
		linked = append(linked, dir+"/"+u.name)
	}
	if err == nil {
		err = s.Store.AddDataFiles(ctx, who.TenantID, dataID, newFiles(written))
		if errors.Is(err, storage.ErrConflict) {
			err = refusal.Invalidf("file", "data.duplicate_file", "")
		}
		err = frozen(err, "data.frozen")
	}
	if err != nil {
		for _, p := range linked { // exclusively ours: the links were new
			s.Files.Remove(context.WithoutCancel(ctx), p)
		}
		return nil, err
	}
	return newFiles(written), nil
}

// upload is one file a request wrote: its user name, size and where it is.
type upload struct {
	name string
	size int64
	path string
}

func newFiles(us []upload) []storage.NewFile {
	out := make([]storage.NewFile, len(us))
	for i, u := range us {
		out[i] = storage.NewFile{Name: u.name, Size: u.size}
	}
	return out
}

func randomHex() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// readParts walks the multipart body: text fields go into form (when not
// nil), file parts are streamed to target(name). taken lists names that may
// not be used. It returns the files written, in order. A text field the
// input rules refuse does not end the walk: the rest of the text is read,
// so the form is shown again with all that was typed, and no file is
// written after it (the upload is refused anyway).
func (s *Service) readParts(ctx context.Context, mr *transfer.Form, form *Form, target func(string) string, taken map[string]bool) ([]upload, error) {
	var written []upload
	var refused refusal.Fields
	seen := map[string]bool{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return written, refused.Err()
		}
		if err != nil {
			return written, fmt.Errorf("%w: %v", ErrUploadCut, err)
		}
		field := part.FormName()
		name := part.FileName()
		if name == "" && field != "file" {
			if form != nil {
				if err := readField(part, field, form); err != nil {
					e, ok := refusal.Of(err)
					if !ok {
						return written, err
					}
					refused = append(refused, e.Fields...)
				}
			}
			continue
		}
		if len(refused) > 0 {
			continue // the body is read on for its text, not stored
		}
		if field != "file" {
			return written, refusal.Invalidf(field, "data.unexpected_file_field", field)
		}
		if name == "" {
			continue // an empty file input of a form with nothing chosen
		}
		if err := files.CheckName(name); err != nil || files.IsTemp(name) {
			// Temporary names are the store's own (and swept away).
			return written, refusal.Invalidf("file", "data.bad_file_name", name)
		}
		if seen[name] || taken[name] {
			return written, refusal.Invalidf("file", "data.duplicate_file", name)
		}
		seen[name] = true
		path := target(name)
		size, err := s.Files.Put(ctx, path, part)
		if errors.Is(err, files.ErrNoSpace) {
			return written, fmt.Errorf("%s: %w", name, err)
		}
		if err != nil {
			return written, fmt.Errorf("%w: %s: %v", ErrUploadCut, name, err)
		}
		written = append(written, upload{name: name, size: size, path: path})
	}
}

// ErrUploadCut means the body ended or broke before the upload was whole.
var ErrUploadCut = errors.New("data: upload interrupted")

// fieldLimit is the most of one text field read: past the input rules'
// own limits, so text a little too long is shown again whole for its
// writer to shorten, as a URL-encoded form's is.
const fieldLimit = 1 << 20

// readField reads one text field into form, held to the input rules. A
// refused value is kept cleaned (input.Clean) for the form shown again.
func readField(p *transfer.Part, field string, form *Form) error {
	b, err := io.ReadAll(io.LimitReader(p, fieldLimit+1))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUploadCut, err)
	}
	if len(b) > fieldLimit {
		return refusal.Invalidf(field, "data.field_too_long", field)
	}
	v := string(b)
	key := input.Check(field, v)
	if key != "" {
		v = input.Clean(field, v)
	}
	switch field {
	case "name":
		form.Name = v
	case "memo":
		form.Memo = v
	case "tags":
		form.Tags = appendTags(form.Tags, v)
	}
	if key != "" {
		return refusal.Invalidf(field, key, field)
	}
	return nil
}

// discard removes an upload's files after a failure; the request may be
// gone, so it does not use the request's context.
func (s *Service) discard(dir string) {
	if err := s.Files.RemoveAll(context.Background(), dir); err != nil {
		s.Log.Error("removing a failed upload", "dir", dir, "error", err)
	}
}

// frozen turns storage's ErrFrozen (a change of what a dataset in use
// holds) into a conflict saying key.
func frozen(err error, key string) error {
	if errors.Is(err, storage.ErrFrozen) {
		return refusal.Conflictf(key)
	}
	return err
}

// Datum returns one datum of the tenant with its files.
func (s *Service) Datum(ctx context.Context, tenantID, id int64) (*storage.Data, error) {
	return s.Store.DataByID(ctx, tenantID, id)
}

// List returns one page of the tenant's data and how many match in all.
func (s *Service) List(ctx context.Context, tenantID int64, f storage.DataFilter) ([]storage.Data, int, error) {
	return s.Store.ListData(ctx, tenantID, f)
}

// Page is List with the cursors either side (DataFilter.After, Before).
func (s *Service) Page(ctx context.Context, tenantID int64, f storage.DataFilter) (storage.Page[storage.Data], error) {
	return s.Store.DataPage(ctx, tenantID, f)
}

// Tags lists the tags the tenant's data use, for filter suggestions.
func (s *Service) Tags(ctx context.Context, tenantID int64) ([]string, error) {
	return s.Store.DataTags(ctx, tenantID)
}

// Update validates and saves a datum's name, memo and tags; they may
// change even while a frozen dataset holds it (its files may not).
func (s *Service) Update(ctx context.Context, tenantID, id int64, f Form) error {
	var bad refusal.Fields
	f.check(&bad)
	if err := bad.Err(); err != nil {
		return err
	}
	return s.Store.UpdateData(ctx, tenantID, id, strings.TrimSpace(f.Name), f.Memo, f.Tags)
}

// Delete removes a datum (refused while a frozen dataset holds it), then
// its files.
func (s *Service) Delete(ctx context.Context, tenantID, id int64) error {
	if err := s.Store.DeleteData(ctx, tenantID, id); err != nil {
		return frozen(err, "data.frozen")
	}
	s.discard(DataDir(tenantID, id))
	return nil
}

// DeleteMany deletes the tenant's data of ids. Those a frozen dataset
// holds are kept and counted; ids that are not there are passed over.
func (s *Service) DeleteMany(ctx context.Context, tenantID int64, ids []int64) (kept int, err error) {
	for _, id := range ids {
		err := s.Delete(ctx, tenantID, id)
		if e, refused := refusal.Of(err); refused && e.Kind == refusal.Conflict {
			kept++
		} else if err != nil && !refused {
			return kept, err
		}
	}
	return kept, nil
}

// RemoveFile removes one file of a datum.
func (s *Service) RemoveFile(ctx context.Context, tenantID, id int64, name string) error {
	path, err := FilePath(tenantID, id, name)
	if err != nil {
		return refusal.Missing() // no file can have that name
	}
	if err := s.Store.RemoveDataFile(ctx, tenantID, id, name); err != nil {
		return frozen(err, "data.frozen")
	}
	if err := s.Files.Remove(context.WithoutCancel(ctx), path); err != nil {
		s.Log.Error("removing a data file", "path", path, "error", err)
	}
	return nil
}

// Open opens one file of a datum of the tenant for download.
func (s *Service) Open(ctx context.Context, tenantID, id int64, name string) (files.File, error) {
	d, err := s.Store.DataByID(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	for _, f := range d.Files {
		if f.Name == name {
			path, err := FilePath(tenantID, id, name)
			if err != nil {
				return nil, err
			}
			return s.Files.Open(ctx, path)
		}
	}
	return nil, storage.ErrNotFound
}
