package files

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// SweepTemp removes upload temporaries (names starting with TempPrefix)
// older than olderThan under dir, recursively, and returns how many it
// removed. A crash or a killed process can leave them; a live upload keeps
// its temporary's modification time fresh with every write, so an age of a
// few hours only hits an upload that stalled that long, which then fails
// cleanly at its rename. Symbolic links are not followed.
func SweepTemp(ctx context.Context, fsys FS, dir string, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	var walk func(dir string) error
	walk = func(dir string) error {
		entries, err := fsys.List(ctx, dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			p := e.Name
			if dir != "." {
				p = dir + "/" + e.Name
			}
			switch {
			case e.IsDir:
				if err := walk(p); err != nil {
					return err
				}
			case IsTemp(e.Name) && e.ModTime.Before(cutoff):
				if err := fsys.Remove(ctx, p); err != nil {
					return err
				}
				removed++
			}
		}
		return nil
	}
	if err := walk(dir); err != nil {
		return removed, fmt.Errorf("files: sweep %q: %w", dir, err)
	}
	return removed, nil
}

// IDDir is a directory tenants/{Tenant}/{area}/{ID} of the store.
type IDDir struct {
	Tenant, ID int64
	Path       string
}

// StaleIDDirs lists every tenant's directories tenants/{tenant}/{area}/{id}
// (numeric names only) not modified since cutoff: what the sweeps of
// unrecorded data and jobs look at. A tenant without area is skipped.
func StaleIDDirs(ctx context.Context, fsys FS, area string, cutoff time.Time) ([]IDDir, error) {
	tenants, err := fsys.List(ctx, "tenants")
	if err != nil {
		return nil, err
	}
	var out []IDDir
	for _, t := range tenants {
		tenant, err := strconv.ParseInt(t.Name, 10, 64)
		if err != nil || !t.IsDir {
			continue
		}
		base := "tenants/" + t.Name + "/" + area
		dirs, err := fsys.List(ctx, base)
		if errors.Is(err, ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, d := range dirs {
			id, err := strconv.ParseInt(d.Name, 10, 64)
			if err != nil || !d.IsDir || d.ModTime.After(cutoff) {
				continue
			}
			out = append(out, IDDir{Tenant: tenant, ID: id, Path: base + "/" + d.Name})
		}
	}
	return out, nil
}
