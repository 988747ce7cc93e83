package web

import (
	"context"
	"errors"
	"io"
	"net/http"

	"kqi/portal/transfer"
	"kqi/storage/files"
)

// attach stores uploaded files in the job's attach directory.
func (p *jobPages) attach(w http.ResponseWriter, r *http.Request) {
	t, ok := p.fromRoute(w, r)
	if !ok {
		return
	}
	transfer.NoDeadline(w)
	mr, err := multipartOf(r)
	if err != nil {
		p.renderError(w, r, http.StatusBadRequest, "error.bad_upload")
		return
	}
	// An upload that fails midway takes back the files it already wrote.
	var written []string
	fail := func(key string) {
		for _, name := range written {
			p.jobs.RemoveAttachment(context.WithoutCancel(r.Context()), t, name)
		}
		p.renderDetail(w, r, http.StatusBadRequest, t, pageMessage{Key: key})
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			fail("error.bad_upload")
			return
		}
		name := transfer.PartFileName(part)
		if part.FormName() != "file" || name == "" {
			continue
		}
		if _, err := p.jobs.PutAttachment(r.Context(), t, name, part); err != nil {
			if errors.Is(err, files.ErrInvalidPath) {
				fail("training.bad_attachment_name")
			} else {
				fail("error.bad_upload")
			}
			return
		}
		written = append(written, name)
	}
	p.redirectToID(w, r, p.view().Detail, t.ID, "flash.files_added")
}
