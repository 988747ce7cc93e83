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

// manyLinker is an FS with a faster way to make many links than one Link
// call after another: several at once (Local: links into different
// directories proceed in parallel in the kernel; SFTP: round trips
// overlap). It returns how many links it made before any error.
type manyLinker interface {
	linkMany(ctx context.Context, links []Link) (int, error)
}

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
	var n int
	if ml, ok := fsys.(manyLinker); ok {
		n, err = ml.linkMany(ctx, links)
	} else {
		n, err = linkAll(ctx, len(links), 1, func(ctx context.Context, i int) error {
			return fsys.Link(ctx, links[i].From, links[i].To)
		})
	}
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

// linkAll runs link for 0..n-1 with the given number of workers and returns
// how many succeeded; the first error stops the rest.
func linkAll(ctx context.Context, n, workers int, link func(ctx context.Context, i int) error) (int, error) {
	if workers <= 1 {
		for i := range n {
			if err := link(ctx, i); err != nil {
				return i, err
			}
		}
		return n, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan int)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		made int
	)
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				if err := link(ctx, i); err != nil {
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
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break send
		}
	}
	close(jobs)
	wg.Wait()
	return made, context.Cause(ctx)
}
