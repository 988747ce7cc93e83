// Command testsum reads `go test -json` on stdin and prints what a person
// needs from a run: the output of failed tests, build errors and the
// package lines as plain `go test` shows them, then how many tests (and
// subtests) passed, failed and were skipped. It exits non-zero when anything
// failed or no test ran. `make test-unit` pipes its run through it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type counts struct{ pass, fail, skip int }

func (c *counts) add(action string) {
	switch action {
	case "pass":
		c.pass++
	case "fail":
		c.fail++
	case "skip":
		c.skip++
	}
}

func main() {
	var all, top counts
	failed := false
	outputs := map[string][]string{} // a running test's output, printed if it fails
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	for in.Scan() {
		var e event
		if err := json.Unmarshal(in.Bytes(), &e); err != nil {
			fmt.Println(in.Text()) // not JSON: go test's own message
			continue
		}
		key := e.Package + " " + e.Test
		switch {
		case e.Action == "build-output":
			fmt.Print(e.Output)
		case e.Action == "build-fail":
			failed = true
		case e.Test == "":
			if e.Action == "output" && e.Output != "PASS\n" {
				fmt.Print(e.Output)
			}
			failed = failed || e.Action == "fail"
		case e.Action == "output":
			if !strings.HasPrefix(e.Output, "=== ") {
				outputs[key] = append(outputs[key], e.Output)
			}
		case e.Action == "pass" || e.Action == "fail" || e.Action == "skip":
			if e.Action == "fail" {
				fmt.Print(strings.Join(outputs[key], ""))
			}
			all.add(e.Action)
			if !strings.Contains(e.Test, "/") {
				top.add(e.Action)
			}
			delete(outputs, key)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		failed = true
	}
	fmt.Printf("tests, subtests included:\n%d passed, %d failed, %d skipped\n", all.pass, all.fail, all.skip)
	fmt.Printf("top-level tests: %d passed, %d failed, %d skipped\n", top.pass, top.fail, top.skip)
	if failed || all.fail > 0 || all.pass == 0 {
		os.Exit(1)
	}
}
