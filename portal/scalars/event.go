package scalars

import (
	"encoding/binary"
	"errors"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// The parts of TensorFlow's protocol buffers a scalar lives in, by field
// number (tensorflow/core/util/event.proto, core/framework/summary.proto,
// tensor.proto and types.proto). Everything else is skipped unread.
const (
	eventStep    = 2 // Event.step, int64
	eventSummary = 5 // Event.summary, Summary

	summaryValue = 1 // Summary.value, repeated Summary.Value

	valueTag         = 1 // Summary.Value.tag, string
	valueSimpleValue = 2 // Summary.Value.simple_value, float (tf1, PyTorch)
	valueTensor      = 8 // Summary.Value.tensor, TensorProto (tf2's tf.summary.scalar)

	tensorDtype   = 1  // TensorProto.dtype, DataType
	tensorContent = 4  // TensorProto.tensor_content, raw little-endian bytes
	tensorFloat   = 5  // TensorProto.float_val, repeated float
	tensorDouble  = 6  // TensorProto.double_val, repeated double
	tensorInt     = 7  // TensorProto.int_val, repeated int32
	tensorInt64   = 10 // TensorProto.int64_val, repeated int64

	dtFloat  = 1
	dtDouble = 2
	dtInt32  = 3
	dtInt64  = 9
)

// scalar is one tagged number of one step.
type scalar struct {
	step  int64
	tag   string
	value float64
}

var errMalformed = errors.New("malformed event")

// parseEvent returns the scalars of one serialized Event; an event of
// another kind (file version, graph, …) has none.
func parseEvent(b []byte) ([]scalar, error) {
	var step int64
	var summaries [][]byte
	err := fields(b, func(num protowire.Number, typ protowire.Type, v uint64, raw []byte) error {
		switch {
		case num == eventStep && typ == protowire.VarintType:
			step = int64(v)
		case num == eventSummary && typ == protowire.BytesType:
			summaries = append(summaries, raw)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []scalar
	for _, s := range summaries {
		err := fields(s, func(num protowire.Number, typ protowire.Type, _ uint64, raw []byte) error {
			if num != summaryValue || typ != protowire.BytesType {
				return nil
			}
			tag, value, ok, err := parseValue(raw)
			if ok {
				out = append(out, scalar{step: step, tag: tag, value: value})
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseValue reads a Summary.Value; ok is false for one that holds no
// single number (an image, a histogram, text).
func parseValue(b []byte) (tag string, value float64, ok bool, err error) {
	err = fields(b, func(num protowire.Number, typ protowire.Type, v uint64, raw []byte) error {
		switch {
		case num == valueTag && typ == protowire.BytesType:
			tag = string(raw)
		case num == valueSimpleValue && typ == protowire.Fixed32Type:
			value, ok = float64(math.Float32frombits(uint32(v))), true
		case num == valueTensor && typ == protowire.BytesType:
			var terr error
			value, ok, terr = parseTensor(raw)
			return terr
		}
		return nil
	})
	return tag, value, ok && tag != "", err
}

// parseTensor reads a tensor of exactly one number.
func parseTensor(b []byte) (float64, bool, error) {
	var dtype uint64
	var content []byte
	var vals []float64
	err := fields(b, func(num protowire.Number, typ protowire.Type, v uint64, raw []byte) error {
		switch num {
		case tensorDtype:
			dtype = v
		case tensorContent:
			content = raw
		case tensorFloat:
			return repeated(typ, v, raw, protowire.Fixed32Type, func(x uint64) { vals = append(vals, float64(math.Float32frombits(uint32(x)))) })
		case tensorDouble:
			return repeated(typ, v, raw, protowire.Fixed64Type, func(x uint64) { vals = append(vals, math.Float64frombits(x)) })
		case tensorInt:
			return repeated(typ, v, raw, protowire.VarintType, func(x uint64) { vals = append(vals, float64(int32(x))) })
		case tensorInt64:
			return repeated(typ, v, raw, protowire.VarintType, func(x uint64) { vals = append(vals, float64(int64(x))) })
		}
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	if content != nil {
		switch {
		case dtype == dtFloat && len(content) == 4:
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(content))), true, nil
		case dtype == dtDouble && len(content) == 8:
			return math.Float64frombits(binary.LittleEndian.Uint64(content)), true, nil
		case dtype == dtInt32 && len(content) == 4:
			return float64(int32(binary.LittleEndian.Uint32(content))), true, nil
		case dtype == dtInt64 && len(content) == 8:
			return float64(int64(binary.LittleEndian.Uint64(content))), true, nil
		}
		return 0, false, nil
	}
	if len(vals) != 1 {
		return 0, false, nil
	}
	return vals[0], true, nil
}

// fields calls fn for each field of a message: the number, the wire
// type, the value of a varint or fixed field, and the bytes of a
// length-delimited one (group fields are skipped).
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v uint64, raw []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
		var v uint64
		var raw []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			v = uint64(x)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			raw, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
		if err := fn(num, typ, v, raw); err != nil {
			return err
		}
	}
	return nil
}

// repeated reads a repeated number field, packed (one length-delimited
// run) or not (one field per element, of wire type want).
func repeated(typ protowire.Type, v uint64, raw []byte, want protowire.Type, add func(uint64)) error {
	if typ == want {
		add(v)
		return nil
	}
	if typ != protowire.BytesType {
		return nil
	}
	for len(raw) > 0 {
		var x uint64
		n := -1
		switch want {
		case protowire.Fixed32Type:
			var y uint32
			y, n = protowire.ConsumeFixed32(raw)
			x = uint64(y)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(raw)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(raw)
		}
		if n < 0 {
			return errMalformed
		}
		add(x)
		raw = raw[n:]
	}
	return nil
}
