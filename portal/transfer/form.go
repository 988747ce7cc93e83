package transfer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/textproto"
	"strings"
)

// Form reads a multipart/form-data body one part at a time. It parses as
// mime/multipart's Reader does (FuzzFormReadsAsMimeMultipart holds it to
// the same parts, headers and bytes), but a file part's bytes go from the
// socket straight into the reader's buffer: mime/multipart copies them
// twice, through its own 4 KiB buffer, and its boundary search and calls
// per 4 KiB were a fifth of the machine during a 2 GiB upload.
//
// What differs from mime/multipart, on purpose: a body cut in a part's
// header is an error (mime/multipart takes it for the form's end), a
// boundary longer than RFC 2046's 70 characters is refused, and a part's
// header block, like any line before the first part, is held to
// formBufSize (mime/multipart: 10 MiB of header, lines of 4 KiB).
type Form struct {
	src  io.Reader
	buf  []byte
	r, w int   // buf[r:w] is read from src and not yet consumed
	err  error // src's error, kept once seen: src is not read again

	nl               []byte // "\r\n", or "\n" when the first delimiter line ends so
	nlDashBoundary   []byte // nl + "--" + boundary: where a part's body ends
	dashBoundary     []byte // "--" + boundary
	dashBoundaryDash []byte // "--" + boundary + "--": the close delimiter

	part      *Part
	partsRead int
}

// formBufSize is the Form's own buffer: part headers, text fields and
// the lookahead that finds where a body ends. A read straight into the
// caller's buffer is capped at this size, so what follows a part's end
// always fits back in it.
const formBufSize = 256 << 10

// directRead is the smallest caller's buffer read into straight from the
// source. Smaller reads (a text field) go through the Form's buffer.
const directRead = 64 << 10

// maxBoundary is RFC 2046's limit on a boundary's length.
const maxBoundary = 70

// FormOf opens r's multipart/form-data body; http.ErrNotMultipart when it
// is not one.
func FormOf(r *http.Request) (*Form, error) {
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" {
		return nil, http.ErrNotMultipart
	}
	return NewForm(r.Body, params["boundary"])
}

// NewForm reads the multipart body src whose parts are delimited by
// boundary.
func NewForm(src io.Reader, boundary string) (*Form, error) {
	if boundary == "" || len(boundary) > maxBoundary {
		return nil, http.ErrNotMultipart
	}
	b := []byte("\r\n--" + boundary + "--")
	return &Form{
		src:              src,
		buf:              make([]byte, formBufSize),
		nl:               b[:2],
		nlDashBoundary:   b[:len(b)-2],
		dashBoundary:     b[2 : len(b)-2],
		dashBoundaryDash: b[2:],
	}, nil
}

// read reads src into p, keeping src's error; an empty read without an
// error is tried again a few times, as bufio does.
func (f *Form) read(p []byte) int {
	if f.err != nil || len(p) == 0 {
		return 0
	}
	for range 100 {
		n, err := f.src.Read(p)
		if err != nil {
			f.err = err
		}
		if n > 0 || err != nil {
			return n
		}
	}
	f.err = io.ErrNoProgress
	return 0
}

// fill moves the unread bytes to the front of buf and reads more after
// them.
func (f *Form) fill() {
	if f.r > 0 {
		f.w = copy(f.buf, f.buf[f.r:f.w])
		f.r = 0
	}
	f.w += f.read(f.buf[f.w:])
}

// readErr is what a body that has not reached its delimiter ends with:
// the source's error, where a clean end is a cut body.
func (f *Form) readErr() error {
	if f.err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return f.err
}

var (
	errLineTooLong = errors.New("multipart: line too long")
	errHeaderCut   = fmt.Errorf("multipart: body cut in a part's header: %w", io.ErrUnexpectedEOF)
)

// readLine consumes and returns the next line with its "\n", or what is
// left with the source's error.
func (f *Form) readLine() ([]byte, error) {
	searched := 0 // from f.r: no "\n" before it
	for {
		if i := bytes.IndexByte(f.buf[f.r+searched:f.w], '\n'); i >= 0 {
			end := f.r + searched + i + 1
			line := f.buf[f.r:end]
			f.r = end
			return line, nil
		}
		searched = f.w - f.r
		if f.err != nil {
			line := f.buf[f.r:f.w]
			f.r = f.w
			return line, f.err
		}
		if searched == len(f.buf) {
			return nil, errLineTooLong
		}
		f.fill()
	}
}

// headerBlock consumes and returns a part's header lines up to and with
// the blank line that ends them; at the source's end, what there is and
// errHeaderCut.
func (f *Form) headerBlock() ([]byte, error) {
	lineStart, searched := 0, 0 // from f.r
	for {
		for {
			i := bytes.IndexByte(f.buf[f.r+searched:f.w], '\n')
			if i < 0 {
				searched = f.w - f.r
				break
			}
			end := searched + i + 1
			line := f.buf[f.r+lineStart : f.r+end]
			lineStart, searched = end, end
			if len(line) == 1 || len(line) == 2 && line[0] == '\r' {
				block := f.buf[f.r : f.r+end]
				f.r += end
				return block, nil
			}
		}
		if f.err == io.EOF {
			block := f.buf[f.r:f.w]
			f.r = f.w
			return block, errHeaderCut
		}
		if f.err != nil {
			return nil, fmt.Errorf("multipart: part header: %w", f.err)
		}
		if searched == len(f.buf) {
			return nil, errors.New("multipart: part header too large")
		}
		f.fill()
	}
}

// NextPart returns the body's next part, after skipping what is left of
// the current one; io.EOF after the last.
func (f *Form) NextPart() (*Part, error) {
	if f.part != nil {
		f.part.skip()
		f.part = nil
	}
	expectNewPart := false
	for {
		line, err := f.readLine()
		if err == io.EOF && f.isFinalBoundary(line) {
			return nil, io.EOF // the close delimiter without its line end
		}
		if err != nil {
			return nil, fmt.Errorf("multipart: NextPart: %w", err)
		}
		switch {
		case f.isBoundaryDelimiterLine(line):
			f.partsRead++
			p, err := f.newPart()
			if err != nil {
				return nil, err
			}
			f.part = p
			return p, nil
		case f.isFinalBoundary(line):
			return nil, io.EOF
		case expectNewPart:
			return nil, fmt.Errorf("multipart: expecting a new part; got line %q", line)
		case f.partsRead == 0:
			// The preamble, before the first delimiter, is ignored.
		case bytes.Equal(line, f.nl):
			// The line end that starts the delimiter after a body.
			expectNewPart = true
		default:
			return nil, fmt.Errorf("multipart: unexpected line in NextPart: %q", line)
		}
	}
}

func (f *Form) newPart() (*Part, error) {
	block, err := f.headerBlock()
	if err != nil && err != errHeaderCut {
		return nil, err
	}
	// Room for the whole block and more: a line that fills a bufio buffer
	// is read in pieces, and at the end of the input its last piece is
	// lost.
	tr := textproto.NewReader(bufio.NewReaderSize(bytes.NewReader(block), len(block)+16))
	header, perr := tr.ReadMIMEHeader()
	if perr != nil && perr != io.EOF {
		// A malformed line says more than the cut after it.
		return nil, fmt.Errorf("multipart: part header: %w", perr)
	}
	if err != nil {
		return nil, err
	}
	p := &Part{Header: header, form: f}
	p.body = partBody{p}
	const cte = "Content-Transfer-Encoding"
	if strings.EqualFold(header.Get(cte), "quoted-printable") {
		header.Del(cte)
		p.body = quotedprintable.NewReader(p.body)
	}
	p.disposition, p.params, err = mime.ParseMediaType(header.Get("Content-Disposition"))
	if err != nil {
		p.disposition, p.params = "", nil
	}
	return p, nil
}

// isFinalBoundary reports whether line is the close delimiter:
// "--boundary--", optional spaces and tabs, and nl or nothing.
func (f *Form) isFinalBoundary(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, f.dashBoundaryDash)
	if !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " \t")
	return len(rest) == 0 || bytes.Equal(rest, f.nl)
}

// isBoundaryDelimiterLine reports whether line starts a part:
// "--boundary", optional spaces and tabs, and nl. The first delimiter
// line decides nl: some clients end lines with a bare "\n".
func (f *Form) isBoundaryDelimiterLine(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, f.dashBoundary)
	if !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " \t")
	if f.partsRead == 0 && len(rest) == 1 && rest[0] == '\n' {
		f.nl = f.nl[1:]
		f.nlDashBoundary = f.nlDashBoundary[1:]
	}
	return bytes.Equal(rest, f.nl)
}

// Part is one part of a Form: its header and, read from it, its body.
// It is valid until the Form's next NextPart.
type Part struct {
	Header textproto.MIMEHeader

	form        *Form
	body        io.Reader // partBody, or a quoted-printable decoder over it
	disposition string
	params      map[string]string

	total int64 // body bytes returned so far
	n     int   // bytes at the Form's buf[r:] known to be body
	err   error // what comes after those n bytes: nil (not known yet), io.EOF or a read error
}

// FormName is the form field the part holds, "" when it is not a
// form-data part.
func (p *Part) FormName() string {
	if p.disposition != "form-data" {
		return ""
	}
	return p.params["name"]
}

// FileName is the file name the part was sent with, exactly as sent.
// (mime/multipart's FileName strips directories silently; a name like
// "../x" must be refused, not renamed.)
func (p *Part) FileName() string {
	return p.params["filename"]
}

// Read reads the part's body.
func (p *Part) Read(d []byte) (int, error) {
	return p.body.Read(d)
}

// partBody reads a part's raw bytes, before any transfer decoding.
type partBody struct{ p *Part }

func (b partBody) Read(d []byte) (int, error) {
	p, f := b.p, b.p.form
	for p.n == 0 && p.err == nil {
		if len(d) >= directRead && f.w-f.r < directRead/16 && f.err == nil {
			if n, err := p.readDirect(d); n > 0 || err != nil {
				return n, err
			}
			continue
		}
		p.decide()
	}
	if p.n == 0 {
		return 0, p.err
	}
	n := copy(d, f.buf[f.r:f.r+min(p.n, len(d))])
	f.r += n
	p.total += int64(n)
	p.n -= n
	if p.n == 0 {
		return n, p.err
	}
	return n, nil
}

// readDirect reads the source into d after the few bytes buffered, and
// returns the body bytes it now holds; what follows them goes back into
// the Form's buffer.
func (p *Part) readDirect(d []byte) (int, error) {
	f := p.form
	d = d[:min(len(d), len(f.buf))]
	m := copy(d, f.buf[f.r:f.w])
	m += f.read(d[m:])
	n, err := scanBody(d[:m], f.dashBoundary, f.nlDashBoundary, p.total == 0, f.readErr())
	f.r, f.w = 0, copy(f.buf, d[n:m])
	p.total += int64(n)
	p.err = err
	return n, err
}

// decide scans the buffer for how much of it is body, reading more when
// it cannot tell yet.
func (p *Part) decide() {
	f := p.form
	p.n, p.err = scanBody(f.buf[f.r:f.w], f.dashBoundary, f.nlDashBoundary, p.total == 0, f.readErr())
	if p.n == 0 && p.err == nil {
		f.fill()
	}
}

// skip consumes the rest of the body without copying it.
func (p *Part) skip() {
	f := p.form
	for {
		for p.n == 0 && p.err == nil {
			p.decide()
		}
		f.r += p.n
		p.total += int64(p.n)
		p.n = 0
		if p.err != nil {
			return
		}
	}
}

// scanBody reports how many bytes at the front of buf are surely part of
// a body, and what follows them: io.EOF when the delimiter does, readErr
// when buf is all there is, nil when more must be read to know.
// nlDelim is nl + "--boundary"; at the start of a body (atStart) the
// delimiter may come without its nl. A delimiter must be followed by
// "--", a space, a tab, a line end or the end of the input.
func scanBody(buf, delim, nlDelim []byte, atStart bool, readErr error) (int, error) {
	if atStart {
		if bytes.HasPrefix(buf, delim) {
			switch delimiterAt(buf, len(delim), readErr) {
			case yes:
				return 0, io.EOF
			case unknown:
				return 0, nil
			case no:
				return len(delim), nil
			}
		}
		if bytes.HasPrefix(delim, buf) {
			return 0, readErr
		}
	}
	if i := bytes.Index(buf, nlDelim); i >= 0 {
		switch delimiterAt(buf[i:], len(nlDelim), readErr) {
		case yes:
			return i, io.EOF
		case unknown:
			return i, nil
		case no:
			return i + len(nlDelim), nil
		}
	}
	if bytes.HasPrefix(nlDelim, buf) {
		return 0, readErr
	}
	// Only a tail that starts with nl's first byte and is the start of a
	// delimiter can still become one; all before it is body.
	if i := bytes.LastIndexByte(buf, nlDelim[0]); i >= 0 && bytes.HasPrefix(nlDelim, buf[i:]) {
		return i, nil
	}
	return len(buf), readErr
}

type match int

const (
	no match = iota
	yes
	unknown
)

// delimiterAt says whether buf, which starts with a delimiter's n bytes,
// holds a real delimiter and not a longer word that starts the same.
func delimiterAt(buf []byte, n int, readErr error) match {
	if len(buf) == n {
		if readErr != nil {
			return yes
		}
		return unknown
	}
	switch c := buf[n]; c {
	case ' ', '\t', '\r', '\n':
		return yes
	case '-':
		if len(buf) == n+1 {
			if readErr != nil {
				return no
			}
			return unknown
		}
		if buf[n+1] == '-' {
			return yes
		}
	}
	return no
}
