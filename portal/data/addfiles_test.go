package data_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"strings"
	"testing"

	"kqi/portal/data"
	"kqi/portal/refusal"
	"kqi/portal/transfer"
	"kqi/storage"
)

// Two requests add the same file name to one datum at once. One wins, the
// other is told the name is taken, and the recorded file is the winner's,
// whole: the loser neither overwrites nor removes it.
func TestConcurrentAddOfTheSameName(t *testing.T) {
	ctx := context.Background()
	svc, tenant := newService(t)
	st, fs := svc.Store, svc.Files
	id, _ := st.NextDataID(ctx)
	st.CreateData(ctx, storage.NewData{ID: id, TenantID: tenant.ID, Name: "d"})

	// Each body is fed through a pipe: both uploads are half written before
	// either ends.
	type feed struct {
		pw      *io.PipeWriter
		rest    []byte
		content string
		err     chan error
	}
	start := func(content string) *feed {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		w, _ := mw.CreateFormFile("file", "x.bin")
		w.Write([]byte(content))
		mw.Close()
		pr, pw := io.Pipe()
		f := &feed{pw: pw, content: content, err: make(chan error, 1)}
		half := body.Len() / 2
		f.rest = body.Bytes()[half:]
		form, err := transfer.NewForm(pr, mw.Boundary())
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			_, err := svc.AddFiles(ctx, data.Actor{TenantID: tenant.ID}, id, form)
			f.err <- err
		}()
		pw.Write(body.Bytes()[:half])
		return f
	}
	a := start(strings.Repeat("A", 1<<20))
	b := start(strings.Repeat("B", 1<<20))
	a.pw.Write(a.rest)
	a.pw.Close()
	errA := <-a.err
	b.pw.Write(b.rest)
	b.pw.Close()
	errB := <-b.err

	if errA != nil {
		t.Fatalf("first upload: %v", errA)
	}
	if inv, ok := refusal.Of(errB); !ok || inv.Fields[0].Key != "data.duplicate_file" {
		t.Fatalf("second upload: %v, want duplicate_file", errB)
	}
	d, _ := st.DataByID(ctx, tenant.ID, id)
	if len(d.Files) != 1 {
		t.Fatalf("recorded files %+v", d.Files)
	}
	f, err := svc.Open(ctx, tenant.ID, id, "x.bin")
	if err != nil {
		t.Fatalf("the recorded file is gone: %v", err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if string(got) != a.content {
		t.Fatalf("the recorded file holds %d bytes starting %q", len(got), got[:1])
	}
	left, _ := fs.List(ctx, data.DataDir(tenant.ID, id))
	if len(left) != 1 {
		t.Fatalf("files left in the datum's directory: %+v", left)
	}
}
