package transfer

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// chunked hands out its bytes a few at a time, as a slow socket does.
type chunked struct {
	b    []byte
	size int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.size)], c.b)
	c.b = c.b[n:]
	return n, nil
}

// walked is what reading a body part by part gives: each part's header
// and bytes, and how the walk ended.
type walked struct {
	Parts []walkedPart
	End   string // "eof", or "error" when NextPart or a body read failed
}

type walkedPart struct {
	Header   textproto.MIMEHeader
	FormName string
	FileName string
	Body     string
}

// partReader is what Form and mime/multipart's Reader have in common.
type partReader interface {
	next() (header textproto.MIMEHeader, formName, fileName string, body io.Reader, err error)
}

type stdParts struct{ r *multipart.Reader }

func (s stdParts) next() (textproto.MIMEHeader, string, string, io.Reader, error) {
	p, err := s.r.NextPart()
	if err != nil {
		return nil, "", "", nil, err
	}
	// The file name as sent: mime/multipart's FileName strips directories.
	_, params, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	return p.Header, p.FormName(), params["filename"], p, nil
}

type formParts struct{ f *Form }

func (s formParts) next() (textproto.MIMEHeader, string, string, io.Reader, error) {
	p, err := s.f.NextPart()
	if errors.Is(err, errHeaderCut) {
		// mime/multipart takes a body cut in a part's header for the
		// form's end; Form refuses it (TestFormRefusesABodyCutInAHeader).
		return nil, "", "", nil, io.EOF
	}
	if err != nil {
		return nil, "", "", nil, err
	}
	return p.Header, p.FormName(), p.FileName(), p, nil
}

// walk reads every part. Bodies are read through buffers of the sizes in
// reads, in turn; with skipBodies they are left for NextPart to skip.
func walk(r partReader, reads []int, skipBodies bool) walked {
	var w walked
	turn := 0
	for len(w.Parts) < 1000 {
		h, name, file, body, err := r.next()
		if err == io.EOF {
			w.End = "eof"
			return w
		}
		if err != nil {
			w.End = "error"
			return w
		}
		p := walkedPart{Header: h, FormName: name, FileName: file}
		if !skipBodies {
			var got bytes.Buffer
			for {
				buf := make([]byte, reads[turn%len(reads)])
				turn++
				n, err := body.Read(buf)
				got.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					p.Body = got.String()
					w.Parts = append(w.Parts, p)
					w.End = "error"
					return w
				}
			}
			p.Body = got.String()
		}
		w.Parts = append(w.Parts, p)
	}
	w.End = "too many parts"
	return w
}

const testBoundary = "xYzZY"

// formBody is a multipart body of the parts given, written by
// mime/multipart's Writer.
func formBody(t testing.TB, boundary string, parts ...[2]string) []byte {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if err := mw.SetBoundary(boundary); err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		var w io.Writer
		var err error
		if name, file, ok := strings.Cut(p[0], "/"); ok {
			w, err = mw.CreateFormFile(name, file)
		} else {
			w, err = mw.CreateFormField(p[0])
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p[1])
	}
	mw.Close()
	return b.Bytes()
}

// sameAsStd checks that Form reads body as mime/multipart does, for
// several read patterns of the source and of the bodies.
func sameAsStd(t *testing.T, body []byte, boundary string) {
	t.Helper()
	patterns := []struct {
		chunk int
		reads []int
		skip  bool
	}{
		{1 << 20, []int{1 << 20}, false},
		{1, []int{directRead}, false},
		{3, []int{7, directRead, 1, directRead * 2}, false},
		{5, []int{1, 2, 3}, false},
		{4096, []int{directRead}, false},
		{2, nil, true},
	}
	for _, pt := range patterns {
		if pt.skip && bytes.Contains(bytes.ToLower(body), []byte("quoted-printable")) {
			// mime/multipart skips a part by reading it decoded: a
			// decoding error leaves it mid-body. Form skips the raw bytes.
			continue
		}
		want := walk(stdParts{multipart.NewReader(&chunked{body, pt.chunk}, boundary)}, pt.reads, pt.skip)
		f, err := NewForm(&chunked{body, pt.chunk}, boundary)
		if err != nil {
			t.Fatal(err)
		}
		got := walk(formParts{f}, pt.reads, pt.skip)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("source chunks of %d, reads %v, skip %v: body %q\nForm:           %+v\nmime/multipart: %+v", pt.chunk, pt.reads, pt.skip, body, got, want)
		}
	}
}

func TestFormReadsAsMimeMultipart(t *testing.T) {
	for name, body := range formSeeds(t) {
		t.Run(name, func(t *testing.T) { sameAsStd(t, []byte(body), testBoundary) })
	}
}

func formSeeds(t testing.TB) map[string]string {
	b := "--" + testBoundary
	return map[string]string{
		"fields and files": string(formBody(t, testBoundary, [2]string{"name", "a name"}, [2]string{"memo", "line 1\r\nline 2"},
			[2]string{"file/a.txt", "hello\r\n--" + testBoundary + "x not a delimiter\r\n-"}, [2]string{"file/../b.bin", "\r\n\r\n--"})),
		"bare line feeds":        b + "\nContent-Disposition: form-data; name=\"a\"\n\nvalue\n" + b + "--\n",
		"transport padding":      b + " \t\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n" + b + "--  \r\nepilogue",
		"preamble":               "preamble\r\nmore\r\n" + b + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n" + b + "--\r\n",
		"close without line end": b + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n" + b + "--",
		"cut body":               b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nhalf of a fi",
		"cut at delimiter":       b + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n" + b,
		"cut in delimiter":       b + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--" + testBoundary[:2],
		"cut in header":          b + "\r\nContent-Disposition: form-da",
		"delimiter at body start": b + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n" + b + "\r\n" +
			"Content-Disposition: form-data; name=\"b\"\r\n\r\nw\r\n" + b + "--\r\n",
		"longer word":        b + "\r\nX: y\r\n\r\nv\r\n" + b + "-x\r\n" + b + "--\r\n",
		"empty":              "",
		"no parts":           b + "--\r\n",
		"garbage after body": b + "\r\nX: y\r\n\r\nv\r\n" + b + "\r\nX: z\r\n\r\nw\r\ngarbage",
		"bad header":         b + "\r\nno colon here\r\n\r\nv\r\n" + b + "--\r\n",
		"continued header":   b + "\r\nContent-Disposition: form-data;\r\n name=\"a\"\r\n \r\n\r\nv\r\n" + b + "--\r\n",
		"quoted-printable": b + "\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
			"caf=C3=A9=\r\n end\r\n" + b + "--\r\n",
		"unexpected line": b + "\r\nX: y\r\n\r\nv\r\n" + b + "\r\nX: z\r\n\r\nw\r\n" + b + "--\r\n",
		"no disposition":  b + "\r\nContent-Type: text/plain\r\n\r\nv\r\n" + b + "--\r\n",
	}
}

func FuzzFormReadsAsMimeMultipart(f *testing.F) {
	for _, body := range formSeeds(f) {
		f.Add([]byte(body), testBoundary)
	}
	f.Add(formBody(f, "a", [2]string{"file/x", "--a\r\n--a-\r\n--a--"}), "a")
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		if len(body) > 4000 || boundary == "" || len(boundary) > maxBoundary {
			// mime/multipart holds lines to 4 KiB; Form refuses boundaries
			// longer than RFC 2046 allows.
			return
		}
		sameAsStd(t, body, boundary)
	})
}

func TestFormRefusesABadBoundary(t *testing.T) {
	for _, boundary := range []string{"", strings.Repeat("b", maxBoundary+1)} {
		if _, err := NewForm(strings.NewReader(""), boundary); !errors.Is(err, http.ErrNotMultipart) {
			t.Errorf("boundary of %d bytes: %v, want ErrNotMultipart", len(boundary), err)
		}
	}
	if _, err := NewForm(strings.NewReader(""), strings.Repeat("b", maxBoundary)); err != nil {
		t.Errorf("a boundary of 70 bytes: %v", err)
	}
	for _, ct := range []string{"", "text/plain", "multipart/form-data", "multipart/mixed; boundary=x", "multipart/form-data; boundary="} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(""))
		r.Header.Set("Content-Type", ct)
		if _, err := FormOf(r); !errors.Is(err, http.ErrNotMultipart) {
			t.Errorf("Content-Type %q: %v, want ErrNotMultipart", ct, err)
		}
	}
}

func TestFormRefusesABodyCutInAHeader(t *testing.T) {
	for _, body := range []string{
		"--" + testBoundary + "\r\nContent-Disposition: form-da",
		"--" + testBoundary + "\r\nContent-Disposition: form-data; name=\"a\"\r\n",
		"--" + testBoundary + "\r\n",
	} {
		f, _ := NewForm(strings.NewReader(body), testBoundary)
		if _, err := f.NextPart(); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: %v, want ErrUnexpectedEOF", body, err)
		}
	}
}

// A part's header block and a line before the first part are held to the
// Form's buffer: a body of one endless line is refused, not buffered.
func TestFormHoldsHeadersToItsBuffer(t *testing.T) {
	endless := "--" + testBoundary + "\r\nX: " + strings.Repeat("y", formBufSize) + "\r\n\r\nv\r\n--" + testBoundary + "--\r\n"
	f, _ := NewForm(strings.NewReader(endless), testBoundary)
	if _, err := f.NextPart(); err == nil || !strings.Contains(err.Error(), "header too large") {
		t.Errorf("a header of %d bytes: %v, want refused as too large", formBufSize, err)
	}
	f, _ = NewForm(strings.NewReader(strings.Repeat("p", formBufSize+1)+"\r\n"+endless), testBoundary)
	if _, err := f.NextPart(); !errors.Is(err, errLineTooLong) {
		t.Errorf("a preamble line of %d bytes: %v, want errLineTooLong", formBufSize+1, err)
	}
}

// countingReader counts the bytes read through it, and those read
// straight into dst.
type countingReader struct {
	r      io.Reader
	dst    []byte
	bytes  int64
	direct int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.bytes += int64(n)
	if len(p) > 0 && len(c.dst) > 0 {
		start := uintptr(unsafe.Pointer(&c.dst[0]))
		if at := uintptr(unsafe.Pointer(&p[0])); at >= start && at < start+uintptr(len(c.dst)) {
			c.direct += int64(n)
		}
	}
	return n, err
}

// A file sent by a real HTTP client arrives whole and unchanged, nearly
// all of it read from the socket straight into the reader's buffer, and
// what follows it (another field) is still there.
func TestFormReadsAnUploadOverHTTP(t *testing.T) {
	file := make([]byte, 5<<20+17)
	rand.Read(file)
	var got []walkedPart
	var src *countingReader
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src = &countingReader{r: r.Body}
		r.Body = io.NopCloser(src)
		f, err := FormOf(r)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for {
			p, err := f.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			var body bytes.Buffer
			buf := make([]byte, 4<<20) // as files.Put reads
			src.dst = buf
			for {
				n, err := io.ReadFull(p, buf)
				body.Write(buf[:n])
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					break
				}
				if err != nil {
					http.Error(w, err.Error(), 400)
					return
				}
			}
			got = append(got, walkedPart{FormName: p.FormName(), FileName: p.FileName(), Body: body.String()})
		}
	}))
	defer srv.Close()
	body := formBody(t, "----KqiTestBoundary0123456789abcdef", [2]string{"name", "big"}, [2]string{"file/big.bin", string(file)}, [2]string{"memo", "after"})
	resp, err := http.Post(srv.URL, "multipart/form-data; boundary=----KqiTestBoundary0123456789abcdef", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want := []walkedPart{{FormName: "name", Body: "big"}, {FormName: "file", FileName: "big.bin", Body: string(file)}, {FormName: "memo", Body: "after"}}
	if len(got) != len(want) {
		t.Fatalf("%d parts, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].FormName != want[i].FormName || got[i].FileName != want[i].FileName || got[i].Body != want[i].Body {
			t.Errorf("part %d: %q %q, %d bytes; want %q %q, %d bytes", i, got[i].FormName, got[i].FileName, len(got[i].Body),
				want[i].FormName, want[i].FileName, len(want[i].Body))
		}
	}
	if src.bytes != int64(len(body)) {
		t.Errorf("read %d bytes of a %d-byte body", src.bytes, len(body))
	}
	if src.direct < int64(len(file))*9/10 {
		t.Errorf("%d of the file's %d bytes were read straight into the reader's buffer, want 90%% or more", src.direct, len(file))
	}
}

// A 64 MiB file part read as files.Put reads it (4 MiB at a time), from a
// source that hands out 256 KiB per read, as a loopback socket does:
// Form against mime/multipart over the 1 MiB buffer the portal used.
func BenchmarkFormFilePart(b *testing.B) {
	file := make([]byte, 64<<20)
	rand.Read(file)
	const boundary = "------------------------a1b2c3d4e5f60718"
	body := formBody(b, boundary, [2]string{"name", "bench"}, [2]string{"file/big.bin", string(file)})
	readers := map[string]func(io.Reader) partReader{
		"form": func(r io.Reader) partReader {
			f, _ := NewForm(r, boundary)
			return formParts{f}
		},
		"mime-multipart": func(r io.Reader) partReader {
			return stdParts{multipart.NewReader(bufio.NewReaderSize(r, 1<<20), boundary)}
		},
	}
	for name, open := range readers {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(file)))
			buf := make([]byte, 4<<20)
			for b.Loop() {
				parts := open(&chunked{body, 256 << 10})
				var n int64
				for {
					_, _, _, p, err := parts.next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					for {
						m, err := io.ReadFull(p, buf)
						n += int64(m)
						if err != nil {
							break
						}
					}
				}
				if n != int64(len(file))+5 {
					b.Fatalf("read %d bytes", n)
				}
			}
		})
	}
}
