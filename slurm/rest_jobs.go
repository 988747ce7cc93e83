package slurm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// decodeJobs reads a GET /jobs answer, calling keep with each job in
// turn, and answers its errors[].
//
// It reads the answer in one pass and keeps only restJob's fields. At
// 5,000 jobs the answer is about 16 MB of some 110 fields a job, and
// encoding/json scanned each job twice (once to find its end, once to
// fill the struct) while skipping nearly all of it: on the portal's two
// cores that competed with slurmrestd writing the answer. The result is
// the one json.Decoder gives, checked by FuzzDecodeJobs: the same JSON
// grammar is accepted, fields match by name as encoding/json matches them
// (exact, else case-folded), null leaves a field as it was, and a string
// with escapes or non-ASCII bytes is unquoted by encoding/json itself.
func decodeJobs(r io.Reader, keep func(restJob)) ([]apiError, error) {
	s := &jsonScanner{r: r, buf: make([]byte, 64<<10), mark: -1, capture: -1}
	var errs []apiError
	err := s.object(func(key []byte, plain bool) error {
		name, err := unquote(key, plain)
		if err != nil {
			return err
		}
		switch name {
		case "jobs":
			return s.array(func() error {
				defer s.fresh()()
				var j restJob
				if c, err := s.next(); err != nil {
					return err
				} else if c == 'n' { // json.Decoder leaves a null job zero
					if err := s.literal("null"); err != nil {
						return err
					}
				} else if err := s.object(func(key []byte, plain bool) error { return s.jobMember(&j, key, plain) }); err != nil {
					return err
				}
				keep(j)
				return nil
			})
		case "errors":
			defer s.fresh()()
			raw, err := s.captured(s.skip)
			if err != nil {
				return err
			}
			return json.Unmarshal(raw, &errs)
		default:
			defer s.fresh()()
			return s.skip()
		}
	})
	return errs, err
}

// jobMember reads the value of the member key of a job into j, or skips
// it when restJob has no such field.
func (s *jsonScanner) jobMember(j *restJob, key []byte, plain bool) error {
	name := string(key[1 : len(key)-1]) // not allocated: only compared
	if !plain {
		var err error
		if name, err = unquote(key, plain); err != nil {
			return err
		}
	}
	switch name {
	case "job_id":
		return s.noVal(&j.JobID)
	case "name":
		return s.stringInto(&j.Name)
	case "comment":
		return s.stringInto(&j.Comment)
	case "user_name":
		return s.stringInto(&j.UserName)
	case "job_state":
		return s.stringInto(&j.JobState)
	case "state_reason":
		return s.stringInto(&j.StateReason)
	case "nodes":
		return s.stringInto(&j.Nodes)
	case "submit_time":
		return s.noVal(&j.SubmitTime)
	case "start_time":
		return s.noVal(&j.StartTime)
	case "end_time":
		return s.noVal(&j.EndTime)
	case "exit_code":
		var raw noVal
		if err := s.noVal(&raw); err != nil {
			return fmt.Errorf("exit_code: %w", err)
		}
		j.ExitCode.Code, j.ExitCode.Signal = waitStatus(raw.value())
		return nil
	case "restart_cnt":
		return s.noVal(&j.RestartCnt)
	case "array_job_id":
		return s.noVal(&j.ArrayJobID)
	case "array_task_id":
		return s.noVal(&j.ArrayTaskID)
	case "array_task_string":
		return s.stringInto(&j.ArrayTaskString)
	}
	// encoding/json takes a key that differs from a field's name only in
	// case (bytes.EqualFold) as that field. The names are lower-case
	// ASCII, so only a key with an upper-case or non-ASCII byte can.
	if needsFold(name) {
		for _, field := range restJobFields {
			if bytes.EqualFold([]byte(name), []byte(field)) {
				return s.jobMember(j, []byte(`"`+field+`"`), true)
			}
		}
	}
	return s.skip()
}

// restJobFields are the JSON names jobMember reads.
var restJobFields = []string{"job_id", "name", "comment", "user_name", "job_state", "state_reason", "nodes",
	"submit_time", "start_time", "end_time", "exit_code", "restart_cnt", "array_job_id", "array_task_id", "array_task_string"}

func needsFold(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return true
		}
	}
	return false
}

// maxJSONDepth is encoding/json's limit on nested objects and arrays.
const maxJSONDepth = 10000

// jsonScanner reads JSON values from a stream through a buffer that
// holds only the token being read (or the value being captured), so
// memory stays flat in the size of the answer.
type jsonScanner struct {
	r        io.Reader
	buf      []byte
	pos, end int   // buf[pos:end] is read and not yet scanned
	mark     int   // start of the token being read, or -1
	capture  int   // start of the value being captured, or -1
	err      error // the reader's, once it has failed or ended
	depth    int
}

// more makes at least one unscanned byte available, answering false at
// the end of the stream.
func (s *jsonScanner) more() bool {
	for s.pos >= s.end {
		if s.err != nil {
			return false
		}
		keep := s.pos
		for _, m := range []int{s.mark, s.capture} {
			if m >= 0 && m < keep {
				keep = m
			}
		}
		if keep > 0 {
			s.end = copy(s.buf, s.buf[keep:s.end])
			s.pos -= keep
			if s.mark >= 0 {
				s.mark -= keep
			}
			if s.capture >= 0 {
				s.capture -= keep
			}
		}
		if s.end == len(s.buf) { // a token longer than the buffer
			s.buf = append(s.buf, make([]byte, len(s.buf))...)
		}
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			s.err = err
		}
	}
	return true
}

// ended is the error for a stream that stopped before the value did.
func (s *jsonScanner) ended() error {
	if errors.Is(s.err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return s.err
}

func (s *jsonScanner) unexpected(c byte, want string) error {
	return fmt.Errorf("invalid character %q where %s was expected", c, want)
}

// jsonSpace holds JSON's white space; plainByte the bytes a string holds
// as they are (printable ASCII but the quote and backslash).
var jsonSpace, plainByte [256]bool

func init() {
	for _, c := range " \t\n\r" {
		jsonSpace[c] = true
	}
	for c := 0x20; c < utf8.RuneSelf; c++ {
		plainByte[c] = c != '"' && c != '\\'
	}
}

// next skips white space and answers the next byte, not reading it.
func (s *jsonScanner) next() (byte, error) {
	for {
		for s.pos < s.end {
			c := s.buf[s.pos]
			if !jsonSpace[c] {
				return c, nil
			}
			s.pos++
		}
		if !s.more() {
			return 0, s.ended()
		}
	}
}

// expect reads the byte c, after white space.
func (s *jsonScanner) expect(c byte) error {
	got, err := s.next()
	if err != nil {
		return err
	}
	if got != c {
		return s.unexpected(got, fmt.Sprintf("%q", c))
	}
	s.pos++
	return nil
}

// byteAt reads the next byte, white space included.
func (s *jsonScanner) byteAt() (byte, error) {
	if s.pos >= s.end && !s.more() {
		return 0, s.ended()
	}
	c := s.buf[s.pos]
	s.pos++
	return c, nil
}

// object reads an object, calling member with each key (its raw bytes,
// quotes included, valid until the next read) once the colon is read;
// member must read the value.
func (s *jsonScanner) object(member func(key []byte, plain bool) error) error {
	empty, err := s.begin('{', '}')
	for more := !empty; err == nil && more; more, err = s.another('}') {
		var key []byte
		var plain bool
		if key, plain, err = s.str(); err != nil {
			return err
		}
		// The buffer may move while the colon is read: keep the key in it.
		s.mark = s.pos - len(key)
		if err := s.expect(':'); err != nil {
			return err
		}
		key = s.buf[s.mark : s.mark+len(key)]
		s.mark = -1
		if err := member(key, plain); err != nil {
			return err
		}
	}
	return err
}

// array reads an array, calling elem to read each element.
func (s *jsonScanner) array(elem func() error) error {
	empty, err := s.begin('[', ']')
	for more := !empty; err == nil && more; more, err = s.another(']') {
		if err := elem(); err != nil {
			return err
		}
	}
	return err
}

// begin reads the opening delimiter of an object or array, and its
// closing one too if it is empty.
func (s *jsonScanner) begin(open, close byte) (empty bool, err error) {
	if err := s.expect(open); err != nil {
		return false, err
	}
	if err := s.enter(); err != nil {
		return false, err
	}
	c, err := s.next()
	if err != nil || c != close {
		return false, err
	}
	s.pos++
	s.depth--
	return true, nil
}

// another reads what follows a member or an element: a comma (another
// follows) or the closing delimiter.
func (s *jsonScanner) another(close byte) (bool, error) {
	c, err := s.next()
	if err != nil {
		return false, err
	}
	s.pos++
	switch c {
	case ',':
		return true, nil
	case close:
		s.depth--
		return false, nil
	}
	return false, s.unexpected(c, fmt.Sprintf("',' or %q", close))
}

// fresh counts depth from 0 until the returned restore, as json.Decoder
// does for each value it decodes after reading tokens.
func (s *jsonScanner) fresh() (restore func()) {
	depth := s.depth
	s.depth = 0
	return func() { s.depth = depth }
}

func (s *jsonScanner) enter() error {
	s.depth++
	if s.depth > maxJSONDepth {
		return errors.New("exceeded max depth")
	}
	return nil
}

// skip reads one value of any kind, checking it as encoding/json would.
func (s *jsonScanner) skip() error {
	c, err := s.next()
	if err != nil {
		return err
	}
	switch {
	case c == '{':
		return s.object(func([]byte, bool) error { return s.skip() })
	case c == '[':
		return s.array(s.skip)
	case c == '"':
		_, _, err := s.str()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		_, err := s.number()
		return err
	}
	return s.unexpected(c, "a value")
}

// captured runs read and answers the bytes it read, after white space.
func (s *jsonScanner) captured(read func() error) ([]byte, error) {
	if _, err := s.next(); err != nil {
		return nil, err
	}
	s.capture = s.pos
	defer func() { s.capture = -1 }()
	if err := read(); err != nil {
		return nil, err
	}
	return bytes.Clone(s.buf[s.capture:s.pos]), nil
}

// literal reads the word true, false or null.
func (s *jsonScanner) literal(word string) error {
	if _, err := s.next(); err != nil {
		return err
	}
	for i := 0; i < len(word); i++ {
		c, err := s.byteAt()
		if err != nil {
			return err
		}
		if c != word[i] {
			return s.unexpected(c, "the literal "+word)
		}
	}
	return nil
}

// str reads a string, answering its raw bytes (quotes included, valid
// until the next read) and whether it is plain: ASCII without escapes,
// so that its bytes between the quotes are its value.
func (s *jsonScanner) str() (raw []byte, plain bool, err error) {
	c, err := s.next()
	if err != nil {
		return nil, false, err
	}
	if c != '"' {
		return nil, false, s.unexpected(c, "a string")
	}
	s.mark = s.pos
	defer func() { s.mark = -1 }()
	s.pos++
	plain = true
	for {
		// The common run of plain bytes, without a call a byte.
		for s.pos < s.end && plainByte[s.buf[s.pos]] {
			s.pos++
		}
		c, err := s.byteAt()
		if err != nil {
			return nil, false, err
		}
		switch {
		case c == '"':
			return s.buf[s.mark:s.pos], plain, nil
		case c == '\\':
			plain = false
			if err := s.escape(); err != nil {
				return nil, false, err
			}
		case c < 0x20:
			return nil, false, s.unexpected(c, "a string's character")
		case c >= utf8.RuneSelf:
			plain = false // encoding/json replaces invalid UTF-8
		}
	}
}

// escape reads what follows a backslash in a string.
func (s *jsonScanner) escape() error {
	c, err := s.byteAt()
	if err != nil {
		return err
	}
	switch c {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return nil
	case 'u':
		for range 4 {
			h, err := s.byteAt()
			if err != nil {
				return err
			}
			if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
				return s.unexpected(h, "a hexadecimal digit")
			}
		}
		return nil
	}
	return s.unexpected(c, "an escape")
}

// number reads a number, answering its bytes (valid until the next read).
func (s *jsonScanner) number() ([]byte, error) {
	if _, err := s.next(); err != nil {
		return nil, err
	}
	s.mark = s.pos
	defer func() { s.mark = -1 }()
	peek := func() byte { // 0 at the end of the stream
		if s.pos >= s.end && !s.more() {
			return 0
		}
		return s.buf[s.pos]
	}
	digits := func() error {
		if c := peek(); c < '0' || c > '9' {
			return s.unexpected(c, "a digit")
		}
		for c := peek(); '0' <= c && c <= '9'; c = peek() {
			s.pos++
		}
		return nil
	}
	if peek() == '-' {
		s.pos++
	}
	if peek() == '0' {
		s.pos++
	} else if err := digits(); err != nil {
		return nil, err
	}
	if peek() == '.' {
		s.pos++
		if err := digits(); err != nil {
			return nil, err
		}
	}
	if c := peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := peek(); c == '+' || c == '-' {
			s.pos++
		}
		if err := digits(); err != nil {
			return nil, err
		}
	}
	if s.pos == s.end && s.err != nil && !errors.Is(s.err, io.EOF) {
		return nil, s.err
	}
	return s.buf[s.mark:s.pos], nil
}

// stringInto reads a string into *dst; null leaves it as it was.
func (s *jsonScanner) stringInto(dst *string) error {
	c, err := s.next()
	if err != nil {
		return err
	}
	switch c {
	case 'n':
		return s.literal("null")
	case '"':
		raw, plain, err := s.str()
		if err != nil {
			return err
		}
		*dst, err = unquote(raw, plain)
		return err
	}
	if err := s.skip(); err != nil {
		return err
	}
	return fmt.Errorf("cannot read a %q into a string", c)
}

// noVal reads a number or null into *n as noVal.UnmarshalJSON does.
func (s *jsonScanner) noVal(n *noVal) error {
	c, err := s.next()
	if err != nil {
		return err
	}
	var raw []byte
	switch {
	case c == '-' || '0' <= c && c <= '9':
		if raw, err = s.number(); err != nil {
			return err
		}
		if v, ok := smallInt(raw); ok {
			n.set(v)
			return nil
		}
	case c == 'n':
		if err := s.literal("null"); err != nil {
			return err
		}
		raw = []byte("null")
	default:
		if raw, err = s.captured(s.skip); err != nil {
			return err
		}
	}
	return n.UnmarshalJSON(raw)
}

// smallInt reads a number of at most 18 digits, the usual case, without
// the general parse.
func smallInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// unquote is a string's value from its raw bytes.
func unquote(raw []byte, plain bool) (string, error) {
	if plain {
		return string(raw[1 : len(raw)-1]), nil
	}
	var v string
	err := json.Unmarshal(raw, &v)
	return v, err
}
