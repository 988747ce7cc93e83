package files

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Link is one hard link Stage makes: To becomes another name of From. Both
// are relative to the FS root.
type Link struct{ From, To string }

// StageStats says what a Stage did and how long it took, for the job's
// record and for benchmarks.
type StageStats struct {
	Links    int // links made
	Dirs     int // distinct parent directories ensured
	Duration time.Duration
}

// concurrencyHint lets an FS say how many links Stage should make at once:
// one is best where each is a fast system call, several where each is a
// network round trip.
type concurrencyHint interface{ stageConcurrency() int }

// Stage lays out hard links (no bytes copied) for a job's inputs and reports
// how long it took and how many links it made.
//
// Every path is validated, and duplicate targets refused, before anything is
// touched. Each target's parent directory is created once. On error Stage
// stops and returns what it made so far; the links already made stay, and
// the caller removes the job's directory as it would for any failed launch.
//
// A hard link shares its inode with the data file: the job must get its
// inputs through a read-only bind, or it could change the data in place.
func Stage(ctx context.Context, fsys FS, links []Link) (StageStats, error) {
	start := time.Now()
	var st StageStats
	dirs, err := stagePlan(links)
	if err != nil {
		return st, err
	}
	for _, d := range dirs {
		if err := fsys.MkdirAll(ctx, d); err != nil {
			st.Duration = time.Since(start)
			return st, fmt.Errorf("files: stage: %w", err)
		}
		st.Dirs++
	}
	workers := 1
	if h, ok := fsys.(concurrencyHint); ok {
		workers = h.stageConcurrency()
	}
	n, err := linkAll(ctx, fsys, links, workers)
	st.Links = n
	st.Duration = time.Since(start)
	if err != nil {
		return st, fmt.Errorf("files: stage: %w", err)
	}
	return st, nil
}

// stagePlan validates links and returns the distinct parent directories of
// their targets, sorted so that a parent comes before its children.
func stagePlan(links []Link) ([]string, error) {
	targets := make(map[string]struct{}, len(links))
	dirSet := make(map[string]struct{})
	for _, l := range links {
		if err := checkPath(l.From, false); err != nil {
			return nil, fmt.Errorf("files: stage: %w", err)
		}
		if err := checkPath(l.To, false); err != nil {
			return nil, fmt.Errorf("files: stage: %w", err)
		}
		if _, dup := targets[l.To]; dup {
			return nil, fmt.Errorf("files: stage: %w: %q is a target twice", ErrInvalidPath, l.To)
		}
		targets[l.To] = struct{}{}
		if d, _ := splitPath(l.To); d != "." {
			dirSet[d] = struct{}{}
		}
	}
	dirs := make([]string, 0, len(dirSet))
	for d := range dirSet {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	return dirs, nil
}

// linkAll makes the links with the given number of workers and returns how
// many it made; the first error stops the rest.
func linkAll(ctx context.Context, fsys FS, links []Link, workers int) (int, error) {
	if workers <= 1 {
		for i, l := range links {
			if err := fsys.Link(ctx, l.From, l.To); err != nil {
				return i, err
			}
		}
		return len(links), nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan Link)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		made int
	)
	for range workers {
		wg.Go(func() {
			for l := range jobs {
				if err := fsys.Link(ctx, l.From, l.To); err != nil {
					cancel(err)
					continue // drain, so the sender never blocks
				}
				mu.Lock()
				made++
				mu.Unlock()
			}
		})
	}
send:
	for _, l := range links {
		select {
		case jobs <- l:
		case <-ctx.Done():
			break send
		}
	}
	close(jobs)
	wg.Wait()
	return made, context.Cause(ctx)
}
