package jobs

import (
	"archive/zip"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"kqi/portal/refusal"
	"kqi/portal/transfer"
	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/files"
)

// OutputFile is one file under a job's /kqi/output.
type OutputFile struct {
	Path string // relative to /kqi/output, slash-separated
	Size int64
}

// maxOutputFiles bounds a listing: a job may write millions of files.
const maxOutputFiles = 10000

// Outputs lists the files under the job's output directory,
// recursively, while the job runs or after.
func (s *Service) Outputs(ctx context.Context, j *storage.Job) ([]OutputFile, error) {
	var out []OutputFile
	if j.JobDir == "" {
		return out, nil
	}
	var walk func(rel string) error
	walk = func(rel string) error {
		dir := j.JobDir + "/" + slurm.OutputDir
		if rel != "" {
			dir += "/" + rel
		}
		// The job may swap a directory for a link between two listings:
		// each level is listed without following links, and a directory
		// that became a link is left out like any link.
		entries, err := s.Files.ListNoFollow(ctx, dir)
		if rel != "" && errors.Is(err, files.ErrInvalidPath) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range entries {
			if len(out) >= maxOutputFiles {
				return nil
			}
			if e.Symlink {
				continue // a job's link may point anywhere under the root: never offered
			}
			p := path.Join(rel, e.Name)
			if e.IsDir {
				if err := walk(p); err != nil {
					return err
				}
				continue
			}
			out = append(out, OutputFile{Path: p, Size: e.Size})
		}
		return nil
	}
	return out, walk("")
}

// ErrBadPath refuses an output path that is not plainly inside /kqi/output.
var ErrBadPath = errors.New("jobs: bad output path")

// OpenOutput opens one output file by its path relative to /kqi/output.
// Symbolic links the job made are refused: resolved on the host, one could
// lead to another tenant's files.
func (s *Service) OpenOutput(ctx context.Context, j *storage.Job, rel string) (files.File, error) {
	if j.JobDir == "" || rel == "" || strings.HasPrefix(rel, "/") || path.Clean(rel) != rel || rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, ErrBadPath
	}
	return s.Files.OpenNoFollow(ctx, j.JobDir+"/"+slurm.OutputDir+"/"+rel)
}

// OpenJobFile opens one of the job directory's own files (log, script).
// The job cannot write its directory, but links are refused all the same.
func (s *Service) OpenJobFile(ctx context.Context, j *storage.Job, name string) (files.File, error) {
	if j.JobDir == "" {
		return nil, files.ErrNotExist
	}
	return s.Files.OpenNoFollow(ctx, j.JobDir+"/"+name)
}

// maxScript bounds a script read from a job's directory: an array task's,
// or one of a job submitted before scripts were kept with the row.
const maxScript = 1 << 20

// Script is the batch script of j as Slurm was given it: kept with the
// row (QueueJob), or the script.sh of its job directory (an array's task,
// a job from before); files.ErrNotExist when it has neither (a job that
// never reached Slurm, or whose queued record a crash lost). The job
// directory is the job's to write: a script.sh it made unreadable (a
// link, say) is no script either, so the job's pages still show.
func (s *Service) Script(ctx context.Context, j *storage.Job) (string, error) {
	script, err := s.Store.JobScript(ctx, j.TenantID, j.ID)
	if !errors.Is(err, storage.ErrNotFound) {
		return script, err
	}
	f, err := s.OpenJobFile(ctx, j, slurm.ScriptFile)
	if err != nil {
		return "", fmt.Errorf("%w: %v", files.ErrNotExist, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxScript))
	if err != nil {
		return "", fmt.Errorf("%w: %v", files.ErrNotExist, err)
	}
	return string(b), nil
}

// NotIncludedName is the entry of output.zip that lists the output files
// it could not hold, and why.
const NotIncludedName = "KQI-NOT-INCLUDED.txt"

// WriteZip streams every output file into a zip on w, one file at a time:
// nothing is built in memory or on disk. A file whose name a zip cannot
// safely hold (see zipName) or that cannot be read is left out and listed
// in NotIncludedName, never dropped silently. A file whose start does not
// deflate (a checkpoint, an image, an archive) is stored as it is.
func (s *Service) WriteZip(ctx context.Context, j *storage.Job, w io.Writer) error {
	list, err := s.Outputs(ctx, j)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	buf := make([]byte, zipCopyBuffer)
	var left []string
	for _, f := range list {
		if !zipName(f.Path) {
			left = append(left, fmt.Sprintf("%q: a zip cannot hold this name safely (a backslash, a colon, a control character, or a part that is . or .. or starts with ..)", f.Path))
			continue
		}
		src, err := s.OpenOutput(ctx, j, f.Path)
		if err != nil {
			left = append(left, fmt.Sprintf("%q: could not be read (%v)", f.Path, err))
			continue
		}
		err = zipEntry(zw, f.Path, src, buf)
		src.Close()
		if err != nil {
			return err
		}
	}
	if len(left) > 0 {
		dst, err := zw.Create(NotIncludedName)
		if err != nil {
			return err
		}
		fmt.Fprintf(dst, "These output files are not in this zip; download them one by one from the job's page:\n\n%s\n", strings.Join(left, "\n"))
	}
	return zw.Close()
}

const (
	// zipCopyBuffer is the chunk output files are copied in.
	zipCopyBuffer = 256 << 10
	// zipSample is how much of a file's start is tried with deflate to
	// choose how the file is held.
	zipSample = 32 << 10
)

// zipEntry adds one file, deflated or stored as its first zipSample bytes
// say, reading it once.
func zipEntry(zw *zip.Writer, name string, src io.Reader, buf []byte) error {
	n, err := io.ReadFull(src, buf[:zipSample])
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return err
	}
	method := zip.Store
	if deflates(buf[:n]) {
		method = zip.Deflate
	}
	dst, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
	if err != nil {
		return err
	}
	if _, err := dst.Write(buf[:n]); err != nil {
		return err
	}
	if n < zipSample {
		return nil // the whole file was the sample
	}
	_, err = io.CopyBuffer(dst, readerOnly{src}, buf)
	return err
}

// readerOnly hides a file's WriterTo, so io.CopyBuffer uses the buffer.
type readerOnly struct{ io.Reader }

// deflateWorth is the share of its size a sample must deflate to (at the
// fastest level) for its file to be deflated: already-compressed or
// random data comes out about as large, and deflating it only costs time
// (output.zip of incompressible files ran at a sixth of zip -0).
const deflateWorth = 0.9

var samplers = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(io.Discard, flate.BestSpeed)
	return w
}}

// deflates reports whether a file starting with sample is worth
// deflating. Small files are, whatever they hold: trying costs nothing.
func deflates(sample []byte) bool {
	if len(sample) < 1<<10 {
		return true
	}
	var out countWriter
	fw := samplers.Get().(*flate.Writer)
	defer samplers.Put(fw)
	fw.Reset(&out)
	if _, err := fw.Write(sample); err != nil {
		return true
	}
	if err := fw.Close(); err != nil {
		return true
	}
	return float64(out) < deflateWorth*float64(len(sample))
}

// countWriter counts what is written to it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// zipName reports whether a zip can hold the output path as an entry name
// that every extractor reads the same way: parts separated by / only, none
// empty, none . or .. or starting with .. (a Windows extractor may strip
// or resolve them), no backslash or colon (a separator or a drive or stream
// to Windows), no control character.
func zipName(p string) bool {
	if p == "" || !utf8.ValidString(p) || strings.ContainsAny(p, "\\:") {
		return false
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || strings.HasPrefix(part, "..") {
			return false
		}
	}
	return true
}

// Attachments lists the files attached to the job.
func (s *Service) Attachments(ctx context.Context, j *storage.Job) ([]files.FileInfo, error) {
	if j.JobDir == "" {
		return nil, nil
	}
	return s.Files.List(ctx, j.JobDir+"/"+slurm.AttachDir)
}

// ErrUploadCut means an upload's body ended or broke before it was whole.
var ErrUploadCut = errors.New("jobs: upload cut short")

// AddAttachments stores every file of an upload in the job's attach
// directory (/kqi/attach in the job, read-only there). An upload that
// fails midway takes back the files it already wrote: a name refused is a
// refusal, a body cut short ErrUploadCut.
func (s *Service) AddAttachments(ctx context.Context, j *storage.Job, mr *transfer.Form) error {
	var written []string
	fail := func(err error) error {
		for _, name := range written {
			s.Files.Remove(context.WithoutCancel(ctx), j.JobDir+"/"+slurm.AttachDir+"/"+name)
		}
		return err
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fail(fmt.Errorf("%w: %v", ErrUploadCut, err))
		}
		name := part.FileName()
		if part.FormName() != "file" || name == "" {
			continue
		}
		if err := files.CheckName(name); err != nil {
			return fail(refusal.Invalidf("file", "training.bad_attachment_name"))
		}
		_, err = s.Files.Put(ctx, j.JobDir+"/"+slurm.AttachDir+"/"+name, part)
		if errors.Is(err, files.ErrNoSpace) {
			return fail(fmt.Errorf("%s: %w", name, err))
		}
		if err != nil {
			return fail(fmt.Errorf("%w: %s: %v", ErrUploadCut, name, err))
		}
		written = append(written, name)
	}
}

// Stop asks the poller to cancel the job (while it waits or runs); a job
// that has ended is a conflict.
func (s *Service) Stop(ctx context.Context, tenantID int64, kind Kind, id int64) error {
	j, err := s.Job(ctx, tenantID, kind, id)
	if err != nil {
		return err
	}
	if !j.Active() {
		return refusal.Conflictf(kind.Name() + ".not_active")
	}
	return s.Store.RequestStop(ctx, tenantID, id)
}

// Delete removes an ended job and its job directory. A job still active is
// a conflict, and so is one that jobs of a kind keeping its parents
// (inferences) were made from, while they exist: their lineage stays whole.
func (s *Service) Delete(ctx context.Context, tenantID int64, kind Kind, id int64) error {
	j, err := s.Job(ctx, tenantID, kind, id)
	if err != nil {
		return err
	}
	var inUse *storage.InUseError
	switch err := s.Store.DeleteJob(ctx, tenantID, id, parentKeepers()...); {
	case errors.Is(err, storage.ErrActive):
		return refusal.Conflictf(kind.Name() + ".delete_active")
	case errors.As(err, &inUse):
		ids := make([]string, len(inUse.By))
		for i, c := range inUse.By {
			ids[i] = "#" + strconv.FormatInt(c, 10)
		}
		return refusal.Conflictf(kind.Name()+".parent_in_use", strings.Join(ids, ", "))
	case err != nil:
		return err
	}
	if j.JobDir != "" {
		if err := s.Files.RemoveAll(context.WithoutCancel(ctx), j.JobDir); err != nil {
			s.Log.Error("removing a job's files", "job", id, "error", err)
		}
	}
	return nil
}
