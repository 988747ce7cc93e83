package slurm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// decodeJobsStd is how GET /jobs was decoded before decodeJobs: with
// json.Decoder, token by token around the jobs. decodeJobs must give
// what it gives.
func decodeJobsStd(r io.Reader, keep func(restJob)) ([]apiError, error) {
	dec := json.NewDecoder(r)
	delim := func(d json.Delim) error {
		tok, err := dec.Token()
		if err == nil && tok != d {
			err = fmt.Errorf("got %v where %v was expected", tok, d)
		}
		return err
	}
	if err := delim('{'); err != nil {
		return nil, err
	}
	var errs []apiError
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch key {
		case "jobs":
			if err := delim('['); err != nil {
				return nil, err
			}
			for dec.More() {
				var j restJob
				if err := dec.Decode(&j); err != nil {
					return nil, err
				}
				keep(j)
			}
			if err := delim(']'); err != nil {
				return nil, err
			}
		case "errors":
			if err := dec.Decode(&errs); err != nil {
				return nil, err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
		}
	}
	return errs, delim('}')
}

type decoded struct {
	jobs []restJob
	errs []apiError
	err  error
}

func decodeWith(decode func(io.Reader, func(restJob)) ([]apiError, error), r io.Reader) decoded {
	var d decoded
	d.errs, d.err = decode(r, func(j restJob) { d.jobs = append(d.jobs, j) })
	return d
}

// sameAsStd fails t unless decodeJobs reads raw as json.Decoder does,
// both from one buffer and a byte at a time (every token then crosses a
// refill of the scanner's buffer).
func sameAsStd(t *testing.T, raw []byte) decoded {
	t.Helper()
	want := decodeWith(decodeJobsStd, bytes.NewReader(raw))
	for name, r := range map[string]io.Reader{"whole": bytes.NewReader(raw), "byte by byte": iotest.OneByteReader(bytes.NewReader(raw))} {
		got := decodeWith(decodeJobs, r)
		if (got.err == nil) != (want.err == nil) {
			t.Fatalf("%s: %.200q: error %v, encoding/json's %v", name, raw, got.err, want.err)
		}
		if want.err == nil && (!reflect.DeepEqual(got.jobs, want.jobs) || !reflect.DeepEqual(got.errs, want.errs)) {
			t.Fatalf("%s: %.200q:\n got  %+v %+v\n want %+v %+v", name, raw, got.jobs, got.errs, want.jobs, want.errs)
		}
	}
	return want
}

// A GET /jobs answer recorded from the dev cluster's slurmrestd: a held
// job whose name and comment need escapes and UTF-8, an array's running
// task and its pending remainder, and a job whose script exited with 3.
func TestDecodeJobsRecorded(t *testing.T) {
	raw, err := os.ReadFile("testdata/v0038/jobs.json")
	if err != nil {
		t.Fatal(err)
	}
	d := sameAsStd(t, raw)
	if d.err != nil || len(d.errs) != 0 {
		t.Fatal(d.err, d.errs)
	}
	var got []string
	for _, j := range d.jobs {
		for _, info := range j.infos() {
			got = append(got, fmt.Sprintf("%s %s %q %q %s/%s exit %d", info.ID, info.State, info.Name, info.Comment, info.Reason, info.Node, info.ExitCode))
		}
	}
	want := []string{
		`183520 PENDING "日本語 \"q\" \\b" "kqi:training:x:1 \"quoted\" \\back" JobHeldUser/ exit 0`,
		`183521_0 RUNNING "arr" "" /kqi-node2 exit 0`,
		`183522 FAILED "fails" "" NonZeroExitCode/kqi-node2 exit 3`,
		`183521_1 PENDING "arr" "" JobArrayTaskLimit/ exit 0`,
		`183521_2 PENDING "arr" "" JobArrayTaskLimit/ exit 0`,
		`183521_3 PENDING "arr" "" JobArrayTaskLimit/ exit 0`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d.jobs[0].SubmitTime.value() == 0 || d.jobs[0].info().SubmitTime.Before(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("submit time %+v", d.jobs[0].SubmitTime)
	}
}

// Answers that take encoding/json's less travelled roads, each read the
// same way by both; and every prefix of one, each an error for both.
func TestDecodeJobsAsEncodingJSON(t *testing.T) {
	for _, raw := range jobsSeeds {
		sameAsStd(t, []byte(raw))
	}
	whole := []byte(jobsSeeds[1])
	for i := range whole {
		if d := sameAsStd(t, whole[:i]); d.err == nil && strings.TrimSpace(string(whole[:i])) != "" {
			t.Fatalf("prefix %q read without error", whole[:i])
		}
	}
}

var jobsSeeds = []string{
	`{"jobs":[]}`,
	`{"meta":{"plugin":{"type":"openapi\/v0.0.38"}},"errors":[],"jobs":[` + v0038Job + `]}`,
	`{"errors":[{"error":"x","error_number":2017,"description":"d"}],"jobs":[]}`,
	`{"errors":null,"jobs":[null,{"job_id":null,"name":null}]}`,
	// Keys in other cases, escaped, or folded (ſ is s, K is k), and the last
	// of a repeated key wins.
	`{"jobs":[{"JOB_ID":5,"Name":"a","job_\u0073tate":"RUNNING","job_ſtate":"X","nodes":"a","nodes":"b","KQI":1,"user_name":"u","user_name":null}]}`,
	`{"jobs":[{"job_id":5,"job_id":null,"comment":"\u65e5\ud83d\ude00\ud800 \"\\\/\b\f\n\r\t","name":"\xff\xfe"}]}`,
	`{"jobs":[{"job_id":4294967295,"end_time":4294967294,"start_time":1.0,"submit_time":-3,"restart_cnt":1e3,"exit_code":2304}]}`,
	`{"jobs":[{"job_id":123456789012345678901234567890}]}`,
	`{"jobs":[{"job_id":1e400}]}`,
	`{"jobs":[{"job_id":"5"}]}`,
	`{"jobs":[{"job_id":{"set":true,"number":5}}]}`,
	`{"jobs":[{"job_state":["PENDING"]}]}`,
	`{"jobs":[{"name":5}]}`,
	`{"jobs":[{"name":true}]}`,
	`{"jobs":[{"other":[1,{"a":[true,false,null,-0.5e+3,"s"]}],"name":"n"}]}`,
	`{"jobs":[5]}`,
	`{"jobs":["x"]}`,
	`{"jobs":null}`,
	`{"jobs":[],"jobs":[{"job_id":7}]}`,
	` {"jobs":[]} trailing`,
	`{"jobs":[],}`,
	`{"jobs":[{"name":"a",}]}`,
	`{"jobs":[{"name" "a"}]}`,
	`{"jobs":[{"name":"a"},]}`,
	`{"jobs":[{"name":"a"} {"name":"b"}]}`,
	`{"jobs":[{"x":01}]}`,
	`{"jobs":[{"x":-}]}`,
	`{"jobs":[{"x":1.}]}`,
	`{"jobs":[{"x":1e}]}`,
	`{"jobs":[{"x":tru}]}`,
	`{"jobs":[{"x":nul}]}`,
	`{"jobs":[{"x":"\x01"}]}`,
	`{"jobs":[{"x":"\u12"}]}`,
	`{"jobs":[{"x":"\a"}]}`,
	`{1:2}`,
	`[]`,
	"\xef\xbb\xbf{}",
	`{"jobs":[{"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]}`,
}

// Every field restJob has is read under its name in any case, as
// encoding/json reads it: a field added to restJob but not to jobMember
// (or to restJobFields, which the case-folded names go through) fails.
func TestDecodeJobsReadsEveryField(t *testing.T) {
	typ := reflect.TypeFor[restJob]()
	var exact, upper []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		value := `7`
		if f.Type.Kind() == reflect.String {
			value = `"v"`
		}
		name := f.Tag.Get("json")
		exact = append(exact, `"`+name+`":`+value)
		upper = append(upper, `"`+strings.ToUpper(name)+`":`+value)
	}
	for _, members := range [][]string{exact, upper} {
		d := sameAsStd(t, []byte(`{"jobs":[{`+strings.Join(members, ",")+`}]}`))
		if d.err != nil || len(d.jobs) != 1 {
			t.Fatalf("%v, %d jobs", d.err, len(d.jobs))
		}
		j := reflect.ValueOf(d.jobs[0])
		for i := range typ.NumField() {
			if j.Field(i).IsZero() {
				t.Errorf("%s (%s) was not read", typ.Field(i).Name, members[i])
			}
		}
	}
}

// Nesting up to encoding/json's limit is read; one more is refused. The
// limit counts from each value json.Decoder decodes, a job or errors[].
func TestDecodeJobsDepth(t *testing.T) {
	for _, depth := range []int{maxJSONDepth - 1, maxJSONDepth} {
		nested := strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1)
		sameAsStd(t, []byte(`{"jobs":[{"x":`+nested+`}],"errors":`+strings.Repeat("[", depth)+strings.Repeat("]", depth)+`}`))
	}
}

// A token longer than the scanner's buffer grows it.
func TestDecodeJobsLongToken(t *testing.T) {
	long := strings.Repeat("é", 100<<10)
	d := sameAsStd(t, []byte(`{"jobs":[{"comment":"`+long+`","x":"`+long+`","job_id":`+strings.Repeat("1", 70<<10)+`}]}`))
	if d.err == nil {
		t.Fatal("a 70,000-digit job id read as a number")
	}
	d = sameAsStd(t, []byte(`{"jobs":[{"comment":"`+long+`","x":"`+long+`"}]}`))
	if d.err != nil || len(d.jobs) != 1 || d.jobs[0].Comment != long {
		t.Fatalf("%v %d", d.err, len(d.jobs))
	}
}

// A connection that fails mid-answer is an error with its cause.
func TestDecodeJobsReadError(t *testing.T) {
	cut := errors.New("connection reset")
	raw := `{"jobs":[` + v0038Job + `,` + v0038Job
	for _, end := range []int{len(raw), len(raw) - 3, strings.Index(raw, "1795616686") + 4} {
		r := io.MultiReader(strings.NewReader(raw[:end]), iotest.ErrReader(cut))
		if _, err := decodeJobs(r, func(restJob) {}); !errors.Is(err, cut) {
			t.Errorf("cut at %d: %v, want %v", end, err, cut)
		}
	}
}

func FuzzDecodeJobs(f *testing.F) {
	for _, raw := range jobsSeeds {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		sameAsStd(t, raw)
	})
}

// The answer at 5,000 jobs is about 16 MB: this is its shape, the
// recorded job's ~110 fields, pretty-printed as slurmrestd prints them.
func BenchmarkDecodeJobs(b *testing.B) {
	raw, err := os.ReadFile("testdata/v0038/jobs.json")
	if err != nil {
		b.Fatal(err)
	}
	var answer struct {
		Jobs []json.RawMessage `json:"jobs"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	buf.WriteString("{\n  \"errors\": [\n  ],\n  \"jobs\": [\n")
	for i := range 5000 {
		if i > 0 {
			buf.WriteString(",\n")
		}
		_ = json.Indent(&buf, answer.Jobs[i%len(answer.Jobs)], "    ", "  ")
	}
	buf.WriteString("\n  ]\n}\n")
	for name, decode := range map[string]func(io.Reader, func(restJob)) ([]apiError, error){"scanner": decodeJobs, "encoding-json": decodeJobsStd} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(buf.Len()))
			b.ReportAllocs()
			for b.Loop() {
				n := 0
				if _, err := decode(bytes.NewReader(buf.Bytes()), func(restJob) { n++ }); err != nil || n != 5000 {
					b.Fatal(err, n)
				}
			}
		})
	}
}
