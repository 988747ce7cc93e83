package web

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"kqi/storage"
)

// previewLimit is how much of a file a preview reads; previewRows how many
// rows of a CSV it shows.
const (
	previewLimit = 256 << 10
	previewRows  = 50
)

// preview is one output file as its page shows it: Mode says which of the
// other fields is filled.
type preview struct {
	Kind      string // the job's kind, for the catalog's words
	JobID     int64
	JobName   string
	Path      string
	Size      int64
	FileURL   string
	JobURL    string
	Mode      string // "table", "json", "text", "image" or "none"
	Header    []string
	Rows      [][]string
	Text      string
	Truncated bool // only the start of the file (or of the CSV) is shown
	Bad       bool // a .json file that is not JSON: shown as text
}

var textTypes = map[string]bool{".txt": true, ".log": true, ".md": true, ".yaml": true, ".yml": true, ".py": true, ".sh": true,
	".out": true, ".err": true, ".cfg": true, ".ini": true, ".toml": true, ".xml": true, ".html": true}

// previewMode picks how a file is shown from its name, and for unknown
// names from its first bytes (valid UTF-8 text without NULs is text).
func previewMode(name string, head []byte) string {
	ext := strings.ToLower(path.Ext(name))
	switch {
	case ext == ".csv" || ext == ".tsv":
		return "table"
	case ext == ".json" || ext == ".jsonl":
		return "json"
	case IsPreviewable(name):
		return "image"
	case textTypes[ext]:
		return "text"
	}
	probe := head[:min(len(head), 4096)]
	for i := 0; i < 3 && len(probe) > 0 && !utf8.Valid(probe); i++ {
		probe = probe[:len(probe)-1] // a rune cut at the probe's end
	}
	if len(head) > 0 && utf8.Valid(probe) && !bytes.ContainsRune(probe, 0) {
		return "text"
	}
	return "none"
}

func (p *jobPages) preview(w http.ResponseWriter, r *http.Request) {
	t, ok := p.fromRoute(w, r)
	if !ok {
		return
	}
	rel := mux.Vars(r)["path"]
	f, err := p.jobs.OpenOutput(r.Context(), t, rel)
	if err != nil {
		p.renderError(w, r, http.StatusNotFound, "error.not_found")
		return
	}
	defer f.Close()
	head, err := io.ReadAll(io.LimitReader(f, previewLimit+1))
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	v := p.view()
	id := strconv.FormatInt(t.ID, 10)
	pv := preview{Kind: p.kind.Name(), JobID: t.ID, JobName: t.Name, Path: rel, FileURL: p.path(v.File, "id", id, "path", rel), JobURL: p.path(v.Detail, "id", id)}
	pv.Truncated = len(head) > previewLimit
	head = head[:min(len(head), previewLimit)]
	pv.Size = int64(len(head))
	pv.Mode = previewMode(rel, head)
	fillPreview(&pv, head, rel)
	p.renderPage(w, r, http.StatusOK, page{Name: "job_preview", Nav: v.List, Title: "preview.title", Data: pv})
}

// fillPreview reads the file's start into the preview's mode.
func fillPreview(pv *preview, head []byte, name string) {
	switch pv.Mode {
	case "table":
		cr := csv.NewReader(bytes.NewReader(head))
		if strings.EqualFold(path.Ext(name), ".tsv") {
			cr.Comma = '\t'
		}
		cr.FieldsPerRecord, cr.LazyQuotes, cr.ReuseRecord = -1, true, false
		for len(pv.Rows) < previewRows+1 {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				// A row cut by the read limit, or a broken line: stop there.
				pv.Truncated = true
				break
			}
			pv.Rows = append(pv.Rows, rec)
		}
		if len(pv.Rows) > previewRows {
			pv.Rows, pv.Truncated = pv.Rows[:previewRows+1], true
		}
		if len(pv.Rows) > 0 {
			pv.Header, pv.Rows = pv.Rows[0], pv.Rows[1:]
		}
		if pv.Header == nil {
			pv.Mode, pv.Text = "text", string(head)
		}
	case "json":
		var buf bytes.Buffer
		if !pv.Truncated && json.Indent(&buf, head, "", "  ") == nil {
			pv.Text = buf.String()
			return
		}
		pv.Mode, pv.Text, pv.Bad = "text", strings.ToValidUTF8(string(head), "\uFFFD"), !pv.Truncated
	case "text":
		pv.Text = strings.ToValidUTF8(string(head), "\uFFFD")
	}
}

// previewURL is the preview page of one output of job t.
func (p *jobPages) previewURL(t *storage.Job, rel string) string {
	return p.path(p.kind.Name()+"Preview", "id", strconv.FormatInt(t.ID, 10), "path", rel)
}
