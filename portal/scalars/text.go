package scalars

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
)

// maxLine bounds one line of metrics.csv or metrics.jsonl.
const maxLine = 64 << 10

// stepColumns name the column that holds the step, in order of
// preference; without one, the row's number is the step.
var stepColumns = []string{"step", "global_step", "epoch", "iteration"}

// lines calls fn with each whole line (newline ended) and its number; the
// last line of a file still being written is left for the next read.
func lines(r io.Reader, file string, c *collector, fn func(n int, line []byte)) error {
	br := bufio.NewReaderSize(r, maxLine)
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			c.note(file, "metrics.line_too_long", strconv.Itoa(n))
			return nil
		case err == io.EOF:
			return nil
		case err != nil:
			c.note(file, "metrics.unreadable", "")
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		fn(n, line)
	}
}

// csv reads metrics.csv: a header row, then one row per step.
func (c *collector) csv(r io.Reader, file string) error {
	var header []string
	step, row := -1, 0
	bad := false
	return lines(r, file, c, func(n int, line []byte) {
		rec, err := splitCSV(line)
		if err != nil {
			if !bad {
				bad = true
				c.note(file, "metrics.bad_line", strconv.Itoa(n))
			}
			return
		}
		if header == nil {
			header = make([]string, len(rec))
			for i, h := range rec {
				header[i] = strings.TrimSpace(h)
			}
			step = stepColumn(header)
			return
		}
		row++
		x := float64(row)
		if step >= 0 {
			v, ok := number(rec, step)
			if !ok {
				return // a row without its step cannot be placed
			}
			x = v
		}
		for i, name := range header {
			if i == step || name == "" {
				continue
			}
			if v, ok := number(rec, i); ok {
				c.add(file, name, x, v)
			}
		}
	})
}

// splitCSV splits one line of CSV; only a line with quotes needs the full
// parser.
func splitCSV(line []byte) ([]string, error) {
	if bytes.IndexByte(line, '"') < 0 {
		return strings.Split(string(line), ","), nil
	}
	return csv.NewReader(bytes.NewReader(line)).Read()
}

func stepColumn(header []string) int {
	for _, want := range stepColumns {
		for i, h := range header {
			if strings.EqualFold(h, want) {
				return i
			}
		}
	}
	return -1
}

func number(rec []string, i int) (float64, bool) {
	if i >= len(rec) {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(rec[i]), 64)
	return v, err == nil
}

// jsonl reads metrics.jsonl: one JSON object per line, its numbers the
// metrics of one step.
func (c *collector) jsonl(r io.Reader, file string) error {
	row := 0
	bad := false
	return lines(r, file, c, func(n int, line []byte) {
		var obj map[string]any
		if err := json.Unmarshal(line, &obj); err != nil {
			if !bad {
				bad = true
				c.note(file, "metrics.bad_line", strconv.Itoa(n))
			}
			return
		}
		row++
		x := float64(row)
		key := ""
		for _, want := range stepColumns {
			if v, ok := obj[want].(float64); ok {
				x, key = v, want
				break
			}
		}
		for name, v := range obj {
			if f, ok := v.(float64); ok && name != key {
				c.add(file, name, x, f)
			}
		}
	})
}
