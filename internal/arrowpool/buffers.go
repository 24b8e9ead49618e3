package arrowpool

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// EachBuffer calls fn for every buffer rec's columns use, their children's
// and dictionaries' included, for callers that count a record's memory. A
// buffer two arrays share is passed once for each; nil buffers are left
// out.
func EachBuffer(rec arrow.Record, fn func(*memory.Buffer)) {
	var walk func(d arrow.ArrayData)
	walk = func(d arrow.ArrayData) {
		for _, b := range d.Buffers() {
			if b != nil {
				fn(b)
			}
		}
		for _, c := range d.Children() {
			walk(c)
		}
		if d.DataType().ID() == arrow.DICTIONARY {
			walk(d.Dictionary())
		}
	}
	for _, c := range rec.Columns() {
		walk(c.Data())
	}
}
