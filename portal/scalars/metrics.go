// Package scalars reads the scalar metrics a job leaves in its output
// directory: metrics.csv, metrics.jsonl and TensorBoard event files
// (events.out.tfevents.*, TFRecord framing with CRC-32C checks, Event and
// Summary protocol buffers read with the wire format). Reading is bounded:
// a malformed, damaged or huge file yields what could be read and a note,
// never an error for the page.
package scalars

import (
	"context"
	"errors"
	"io"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Point is one [step, value] pair.
type Point [2]float64

// Series is the points of one metric, ordered by step.
type Series struct {
	Name   string  `json:"name"`
	Points []Point `json:"points"`
}

// Note says why something was not (wholly) read: a catalog key whose
// message takes the file's path and Arg.
type Note struct {
	File string
	Key  string
	Arg  string
}

// Result is what a job's outputs hold.
type Result struct {
	Series []Series
	Notes  []Note
}

// File is one output file, by its path relative to the output directory.
type File struct {
	Path string
	Size int64
}

// Source is a job's output directory.
type Source interface {
	Files(ctx context.Context) ([]File, error)
	Open(ctx context.Context, path string) (io.ReadCloser, error)
}

// The files read: two fixed names at the top of the output directory and
// event files anywhere below it.
const (
	CSVFile      = "metrics.csv"
	JSONLFile    = "metrics.jsonl"
	eventsPrefix = "events.out.tfevents."
)

// Bounds on what one read takes.
const (
	maxFileBytes  = 8 << 20  // read of any one file
	maxReadBytes  = 64 << 20 // read of all files together
	maxEventFiles = 32
	maxSeries     = 200
	maxPoints     = 200000 // of one series
)

// Read reads every metrics file of src. An error is only for the listing
// itself failing; each file's trouble is a note.
func Read(ctx context.Context, src Source) (Result, error) {
	list, err := src.Files(ctx)
	if err != nil {
		return Result{}, err
	}
	c := &collector{series: map[string]*Series{}}
	events := 0
	budget := int64(maxReadBytes)
	for _, f := range list {
		base := path.Base(f.Path)
		var read func(io.Reader, string) error
		switch {
		case f.Path == CSVFile:
			read = c.csv
		case f.Path == JSONLFile:
			read = c.jsonl
		case strings.HasPrefix(base, eventsPrefix):
			if events++; events > maxEventFiles {
				c.note(f.Path, "metrics.too_many_files", strconv.Itoa(maxEventFiles))
				continue
			}
			read = c.events
		default:
			continue
		}
		limit := min(int64(maxFileBytes), budget)
		if limit <= 0 {
			c.note(f.Path, "metrics.too_much", strconv.Itoa(maxReadBytes>>20))
			break
		}
		if f.Size > limit {
			c.note(f.Path, "metrics.too_large", strconv.Itoa(int(limit>>20)))
		}
		budget -= min(f.Size, limit)
		r, err := src.Open(ctx, f.Path)
		if err != nil {
			if ctx.Err() != nil {
				return Result{}, ctx.Err()
			}
			c.note(f.Path, "metrics.unreadable", "")
			continue
		}
		err = read(io.LimitReader(r, limit), f.Path)
		r.Close()
		if err != nil && ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
	}
	return c.result(), nil
}

// collector gathers the points of every series.
type collector struct {
	series map[string]*Series
	notes  []Note
	full   bool // maxSeries reached
}

func (c *collector) note(file, key, arg string) {
	c.notes = append(c.notes, Note{File: file, Key: key, Arg: arg})
}

// add records one point; values JSON cannot carry (NaN, ±Inf) are left
// out, as a chart could not draw them either.
func (c *collector) add(file, name string, step, value float64) {
	if math.IsNaN(value) || math.IsInf(value, 0) || math.IsNaN(step) || math.IsInf(step, 0) {
		return
	}
	s := c.series[name]
	if s == nil {
		if len(c.series) >= maxSeries {
			if !c.full {
				c.full = true
				c.note(file, "metrics.too_many_series", strconv.Itoa(maxSeries))
			}
			return
		}
		s = &Series{Name: name}
		c.series[name] = s
	}
	if len(s.Points) < maxPoints {
		s.Points = append(s.Points, Point{step, value})
	}
}

func (c *collector) result() Result {
	out := Result{Series: []Series{}, Notes: c.notes}
	for _, s := range c.series {
		sort.SliceStable(s.Points, func(i, j int) bool { return s.Points[i][0] < s.Points[j][0] })
		out.Series = append(out.Series, *s)
	}
	sort.Slice(out.Series, func(i, j int) bool { return out.Series[i].Name < out.Series[j].Name })
	return out
}

// events reads one event file. A record cut short at the end is the
// writer's next one, not yet whole: not a fault.
func (c *collector) events(r io.Reader, file string) error {
	run := path.Dir(file)
	rr := &recordReader{r: r}
	for n := 0; ; n++ {
		rec, err := rr.next()
		switch {
		case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
			return nil
		case errors.Is(err, errCorrupt):
			c.note(file, "metrics.corrupt", strconv.Itoa(n))
			return nil
		case errors.Is(err, errTooLarge):
			c.note(file, "metrics.corrupt", strconv.Itoa(n))
			return nil
		case err != nil:
			c.note(file, "metrics.unreadable", "")
			return err
		}
		scalars, err := parseEvent(rec)
		if err != nil {
			c.note(file, "metrics.corrupt", strconv.Itoa(n))
			return nil
		}
		for _, s := range scalars {
			name := s.tag
			if run != "." {
				name = run + "/" + s.tag
			}
			c.add(file, name, float64(s.step), s.value)
		}
	}
}
