package scalars

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
)

// TFRecord framing, as TensorFlow's record writer lays out an event file:
//
//	uint64 length (little endian)
//	uint32 masked CRC-32C of the length bytes
//	length bytes of data (one serialized Event)
//	uint32 masked CRC-32C of the data

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TensorFlow's masking of a CRC-32C, which keeps a CRC of
// data that itself holds CRCs from looking like one.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// errCorrupt is a record whose checksum does not match or whose length is
// beyond reason: the rest of the file cannot be trusted.
var errCorrupt = errors.New("corrupt record")

// errTooLarge is a record longer than maxRecord.
var errTooLarge = errors.New("record too large")

// maxRecord bounds one record: a scalar event is tens of bytes, a graph a
// few megabytes; anything longer is skipped unread.
const maxRecord = 16 << 20

// recordReader reads TFRecords one at a time.
type recordReader struct {
	r   io.Reader
	buf []byte
}

// next returns the next record's data, io.EOF at a clean end and
// io.ErrUnexpectedEOF for a record cut short, which is what a file still
// being written ends with.
func (rr *recordReader) next() ([]byte, error) {
	var head [12]byte
	if _, err := io.ReadFull(rr.r, head[:]); err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint32(head[8:]) != maskedCRC(head[:8]) {
		return nil, errCorrupt
	}
	n := binary.LittleEndian.Uint64(head[:8])
	if n > maxRecord {
		return nil, errTooLarge
	}
	if cap(rr.buf) < int(n)+4 {
		rr.buf = make([]byte, int(n)+4)
	}
	b := rr.buf[:int(n)+4]
	if _, err := io.ReadFull(rr.r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	data := b[:n]
	if binary.LittleEndian.Uint32(b[n:]) != maskedCRC(data) {
		return nil, errCorrupt
	}
	return data, nil
}
