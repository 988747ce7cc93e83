package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

type table struct{ w *tabwriter.Writer }

func newTable(w io.Writer, header ...any) *table {
	t := &table{w: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...any) {
	for i, c := range cells {
		if i > 0 {
			fmt.Fprint(t.w, "\t")
		}
		fmt.Fprint(t.w, c)
	}
	fmt.Fprintln(t.w)
}

func (t *table) flush() error { return t.w.Flush() }

func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// progress is a transfer's progress bar on standard error: drawn only
// when standard error is a terminal and the output is not --json, in
// colour unless NO_COLOR is set.
type progress struct{ bar *progressbar.ProgressBar }

func (a *app) progress(total int64, what string, asJSON bool) *progress {
	f, ok := a.stderr.(*os.File)
	if asJSON || !ok || !term.IsTerminal(int(f.Fd())) {
		return &progress{}
	}
	color := a.getenv("NO_COLOR") == ""
	desc := what
	if color {
		desc = "[cyan]" + what + "[reset]"
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionEnableColorCodes(color),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(f) }),
	)
	return &progress{bar: bar}
}

// reader counts what passes through r.
func (p *progress) reader(r io.Reader) io.Reader {
	if p.bar == nil {
		return r
	}
	pr := progressbar.NewReader(r, p.bar)
	return &pr
}

func (p *progress) writer(w io.Writer) io.Writer {
	if p.bar == nil {
		return w
	}
	return io.MultiWriter(w, p.bar)
}

func (p *progress) done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

// abort leaves the bar where it stopped, on its own line.
func (p *progress) abort() {
	if p.bar != nil {
		p.bar.Exit()
		fmt.Fprintln(os.Stderr)
	}
}
