package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"kqi/portal/client"
)

// fetch downloads the API path into dir/rel through a temporary file
// beside it, renamed into place only when whole: a broken download leaves
// no partial file behind.
func fetch(ctx context.Context, cl *client.Client, path, dir, rel string, p *progress) (int64, error) {
	dst := filepath.Join(dir, filepath.FromSlash(rel))
	if !strings.HasPrefix(dst, filepath.Clean(dir)+string(filepath.Separator)) {
		return 0, fmt.Errorf("refusing to write %q outside %s", rel, dir)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, err
	}
	body, _, err := cl.Open(ctx, path)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".kqi-download-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(p.writer(tmp), body)
	if err != nil {
		tmp.Close()
		return n, fmt.Errorf("downloading %s: %v", rel, err)
	}
	if err := tmp.Close(); err != nil {
		return n, err
	}
	return n, os.Rename(tmp.Name(), dst)
}

// checkDir makes sure -o names a directory (made if missing).
func checkDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return errors.New(dir + " is not a directory")
	}
	return nil
}
