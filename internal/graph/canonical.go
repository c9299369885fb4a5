package graph

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"sort"
	"strconv"

	"github.com/zclconf/go-cty/cty"
)

// framer builds the unambiguous byte strings that fingerprints hash: every
// field is written as an 8-byte big-endian length followed by its bytes, so
// no two different sequences of fields produce the same bytes.
type framer struct{ buf []byte }

func (f *framer) bytes(b []byte) *framer {
	f.buf = binary.BigEndian.AppendUint64(f.buf, uint64(len(b)))
	f.buf = append(f.buf, b...)
	return f
}

func (f *framer) str(s string) *framer {
	f.buf = binary.BigEndian.AppendUint64(f.buf, uint64(len(s)))
	f.buf = append(f.buf, s...)
	return f
}

func (f *framer) strs(ss []string) *framer {
	f.buf = binary.BigEndian.AppendUint64(f.buf, uint64(len(ss)))
	for _, s := range ss {
		f.str(s)
	}
	return f
}

func (f *framer) sum() [32]byte { return sha256.Sum256(f.buf) }

// canonical appends the canonical encoding of v: a one-byte tag, then the
// framed content. Marks (sensitivity) are ignored, maps and objects are
// written in key order, set elements in the order of their encodings, and
// lists and tuples alike, so the result depends on the value only — not on
// map iteration, HCL syntax or where the value came from. Numbers are
// written in their shortest exact decimal form, so 1, 1.0 and 1e0 agree.
func canonical(f *framer, v cty.Value) {
	if v == cty.NilVal {
		f.str("n")
		return
	}
	v, _ = v.UnmarkDeep()
	switch {
	case !v.IsKnown():
		f.str("u")
		return
	case v.IsNull():
		f.str("n")
		return
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		f.str("s").str(v.AsString())
	case ty == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			f.str("d").str(bf.Text('f', 0))
		} else {
			f.str("d").str(bf.Text('g', -1))
		}
	case ty == cty.Bool:
		if v.True() {
			f.str("b").str("1")
		} else {
			f.str("b").str("0")
		}
	case ty.IsListType() || ty.IsTupleType():
		f.str("l").bytes(binary.BigEndian.AppendUint64(nil, uint64(v.LengthInt())))
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			canonical(f, e)
		}
	case ty.IsSetType():
		var elems [][]byte
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			sub := &framer{}
			canonical(sub, e)
			elems = append(elems, sub.buf)
		}
		sort.Slice(elems, func(i, j int) bool { return bytes.Compare(elems[i], elems[j]) < 0 })
		f.str("e").bytes(binary.BigEndian.AppendUint64(nil, uint64(len(elems))))
		for _, e := range elems {
			f.bytes(e)
		}
	case ty.IsMapType() || ty.IsObjectType():
		m := v.AsValueMap()
		f.str("m").bytes(binary.BigEndian.AppendUint64(nil, uint64(len(m))))
		for _, k := range sortedKeys(m) {
			f.str(k)
			canonical(f, m[k])
		}
	default: // capsule types: not expected in configuration values
		f.str("c").str(ty.FriendlyName())
	}
}

// canonicalString is a short human-readable rendering of v for --explain.
func canonicalString(v cty.Value) string {
	if v == cty.NilVal {
		return "null"
	}
	v, _ = v.UnmarkDeep()
	if !v.IsKnown() {
		return "(unknown)"
	}
	if v.IsNull() {
		return "null"
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return strconv.Quote(v.AsString())
	case ty == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			return bf.Text('f', 0)
		}
		return bf.Text('g', -1)
	case ty == cty.Bool:
		if v.True() {
			return "true"
		}
		return "false"
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		var b bytes.Buffer
		b.WriteByte('[')
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			_, e := it.Element()
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(canonicalString(e))
		}
		b.WriteByte(']')
		return b.String()
	case ty.IsMapType() || ty.IsObjectType():
		m := v.AsValueMap()
		var b bytes.Buffer
		b.WriteByte('{')
		for i, k := range sortedKeys(m) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k)
			b.WriteString(" = ")
			b.WriteString(canonicalString(m[k]))
		}
		b.WriteByte('}')
		return b.String()
	}
	return ty.FriendlyName()
}
