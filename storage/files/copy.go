package files

import (
	"context"
	"io"
)

// copyBufSize bounds the memory one upload uses, whatever the file's size.
// 1 MiB amortises system calls well on local disks.
const copyBufSize = 1 << 20

// ctxReader ends a stream as soon as ctx is done, so a cancelled request
// stops an upload at its next read even when the source itself would go on.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// copyFull copies r to w through one fixed buffer, filling it before each
// write so that small reads (an HTTP body arrives a few KiB at a time) still
// make large writes. It checks ctx before every read. Unlike io.Copy it never
// hands off to ReaderFrom/WriterTo, which would ignore the buffer.
func copyFull(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	r = ctxReader{ctx, r}
	buf := make([]byte, copyBufSize)
	var written int64
	for {
		n, rerr := fill(r, buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			written += int64(m)
			if werr != nil {
				return written, werr
			}
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, rerr
		}
	}
}

// fill reads into b until it is full or r fails. Unlike io.ReadFull it
// returns r's error unchanged: a cut-off multipart body reports
// io.ErrUnexpectedEOF itself, and that must not be mistaken for a short,
// clean last block.
func fill(r io.Reader, b []byte) (n int, err error) {
	for n < len(b) && err == nil {
		var m int
		m, err = r.Read(b[n:])
		n += m
	}
	return n, err
}
