package data_test

import (
	"bytes"
	"context"
	"errors"
	"mime/multipart"
	"testing"

	"kqi/portal/data"
	"kqi/portal/transfer"
	"kqi/storage"
)

// A body that ends, cleanly, inside the header of its second file is a
// cut upload: nothing is registered and the first file is removed.
// (mime/multipart took such an end for the form's: the first file alone
// would have been registered as the whole upload.)
func TestRegisterRefusesABodyCutInAPartHeader(t *testing.T) {
	ctx := context.Background()
	svc, tenant := newService(t)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("name", "two files")
	w, _ := mw.CreateFormFile("file", "first.txt")
	w.Write([]byte("first"))
	mw.CreateFormFile("file", "second.txt")
	cut := body.Bytes()[:bytes.LastIndex(body.Bytes(), []byte("Content-Type"))]
	form, err := transfer.NewForm(bytes.NewReader(cut), mw.Boundary())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Register(ctx, data.Actor{TenantID: tenant.ID}, form); !errors.Is(err, data.ErrUploadCut) {
		t.Fatalf("Register: %v, want ErrUploadCut", err)
	}
	page, err := svc.Store.DataPage(ctx, tenant.ID, storage.DataFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 0 {
		t.Errorf("%d data registered", len(page.Items))
	}
	left, err := svc.Files.List(ctx, "tenants")
	if err != nil {
		t.Fatal(err)
	}
	for _, tdir := range left {
		datadirs, _ := svc.Files.List(ctx, "tenants/"+tdir.Name+"/data")
		for _, d := range datadirs {
			if inner, _ := svc.Files.List(ctx, "tenants/"+tdir.Name+"/data/"+d.Name); len(inner) > 0 {
				t.Errorf("files left in data/%s: %+v", d.Name, inner)
			}
		}
	}
}
