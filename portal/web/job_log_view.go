package web

import (
	"bufio"
	"html/template"
	"io"
	"regexp"
	"strings"
	"time"
)

// logSearchLimit bounds how much of a log one search reads, and
// logSearchLines how many matching lines it shows.
const (
	logSearchLimit = 16 << 20
	logSearchLines = 2000
)

// searchLog returns the lines of the log containing q (case-insensitive)
// and their number, reading at most logSearchLimit bytes.
func searchLog(r io.Reader, q string) (string, int) {
	sc := bufio.NewScanner(io.LimitReader(r, logSearchLimit))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	needle := strings.ToLower(q)
	var b strings.Builder
	n := 0
	for sc.Scan() {
		line := strings.ToValidUTF8(sc.Text(), "?")
		if !strings.Contains(strings.ToLower(line), needle) {
			continue
		}
		n++
		if n <= logSearchLines {
			b.WriteString(line + "\n")
		}
	}
	return b.String(), n
}

// kqiStamp is the time the batch script's own lines start with
// (kqi_say in slurm/script.go): the node's local time with its offset.
var kqiStamp = regexp.MustCompile(`\[kqi\] (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4})`)

// logHTML escapes a log for a <pre> and marks the script's timestamps as
// <time>, which kqi.js shows in the reader's time zone; without script
// they read as UTC.
func logHTML(log string) template.HTML {
	esc := template.HTMLEscapeString(log)
	return template.HTML(kqiStamp.ReplaceAllStringFunc(esc, func(m string) string {
		stamp := m[len("[kqi] "):]
		t, err := time.Parse("2006-01-02T15:04:05-0700", stamp)
		if err != nil {
			return m
		}
		u := t.UTC()
		return `[kqi] <time datetime="` + u.Format(time.RFC3339) + `" data-seconds>` + u.Format("2006-01-02 15:04:05 UTC") + `</time>`
	}))
}
