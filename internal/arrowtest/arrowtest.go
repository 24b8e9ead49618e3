// Package arrowtest builds Arrow record batches from rows of Go values, for
// tests.
package arrowtest

import (
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Records builds records of at most batch rows (all rows in one record
// when batch <= 0; one empty record for no rows). A nil value is NULL.
// Values by column type: int64 (int or int64), int8 (int or int8), float64,
// string, bool, decimal128 (the value as text, "10.50"), timestamp[us]
// (time.Time) and date32 (time.Time or arrow.Date32). The caller releases
// the records.
func Records(mem memory.Allocator, schema *arrow.Schema, rows [][]any, batch int) ([]arrow.Record, error) {
	if batch <= 0 {
		batch = len(rows) + 1
	}
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	var out []arrow.Record
	fail := func(err error) ([]arrow.Record, error) {
		for _, r := range out {
			r.Release()
		}
		return nil, err
	}
	for i, row := range rows {
		if len(row) != schema.NumFields() {
			return fail(fmt.Errorf("row %d has %d values for %d columns", i, len(row), schema.NumFields()))
		}
		for c, v := range row {
			if err := appendValue(b.Field(c), schema.Field(c).Type, v); err != nil {
				return fail(fmt.Errorf("row %d column %s: %w", i, schema.Field(c).Name, err))
			}
		}
		if (i+1)%batch == 0 {
			out = append(out, b.NewRecord())
		}
	}
	if len(rows)%batch != 0 || len(rows) == 0 {
		out = append(out, b.NewRecord())
	}
	return out, nil
}

func appendValue(fb array.Builder, dt arrow.DataType, v any) error {
	if v == nil {
		fb.AppendNull()
		return nil
	}
	switch fb := fb.(type) {
	case *array.Int64Builder:
		switch x := v.(type) {
		case int:
			fb.Append(int64(x))
		case int64:
			fb.Append(x)
		default:
			return fmt.Errorf("want an int, got %T", v)
		}
	case *array.Int8Builder:
		switch x := v.(type) {
		case int:
			fb.Append(int8(x))
		case int8:
			fb.Append(x)
		default:
			return fmt.Errorf("want an int or int8, got %T", v)
		}
	case *array.Float64Builder:
		fb.Append(v.(float64))
	case *array.StringBuilder:
		fb.Append(v.(string))
	case *array.BooleanBuilder:
		fb.Append(v.(bool))
	case *array.Decimal128Builder:
		t := dt.(*arrow.Decimal128Type)
		n, err := decimal128.FromString(v.(string), t.Precision, t.Scale)
		if err != nil {
			return err
		}
		fb.Append(n)
	case *array.TimestampBuilder:
		fb.Append(arrow.Timestamp(v.(time.Time).UnixMicro()))
	case *array.Date32Builder:
		switch x := v.(type) {
		case time.Time:
			fb.Append(arrow.Date32FromTime(x))
		case arrow.Date32:
			fb.Append(x)
		default:
			return fmt.Errorf("want a time.Time or arrow.Date32, got %T", v)
		}
	default:
		return fmt.Errorf("unsupported builder %T", fb)
	}
	return nil
}
