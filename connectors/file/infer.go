package file

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/reconhq/reconcile/connectors"
)

// kind is the Arrow type this package gives a column.
type kind uint8

const (
	kText kind = iota
	kJSON      // a String column with reconcile.logical=json
	kInt
	kDecimal
	kFloat
	kBool
	kDate
	kTimestamp
)

var kindNames = [...]string{
	kText:      "text",
	kJSON:      "json",
	kInt:       "integer",
	kDecimal:   "decimal",
	kFloat:     "float",
	kBool:      "boolean",
	kDate:      "date",
	kTimestamp: "timestamp",
}

func (k kind) String() string { return kindNames[k] }

// colType is a resolved column type.
type colType struct {
	kind  kind
	scale int32 // for kDecimal
}

func (t colType) arrow() arrow.DataType {
	switch t.kind {
	case kInt:
		return arrow.PrimitiveTypes.Int64
	case kDecimal:
		return &arrow.Decimal128Type{Precision: maxDecimalDigits, Scale: t.scale}
	case kFloat:
		return arrow.PrimitiveTypes.Float64
	case kBool:
		return arrow.FixedWidthTypes.Boolean
	case kDate:
		return arrow.FixedWidthTypes.Date32
	case kTimestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	}
	return arrow.BinaryTypes.String
}

func (t colType) field(name string) arrow.Field {
	f := arrow.Field{Name: name, Type: t.arrow(), Nullable: true}
	if t.kind == kJSON {
		f.Metadata = arrow.NewMetadata([]string{connectors.MetaLogical}, []string{connectors.LogicalJSON})
	}
	return f
}

func (t colType) String() string {
	if t.kind == kDecimal {
		return fmt.Sprintf("decimal(%d,%d)", maxDecimalDigits, t.scale)
	}
	return t.kind.String()
}

// forcedType is a type named in Options.Types. autoScale means "decimal"
// without an explicit scale: the scale comes from the inference pass.
type forcedType struct {
	colType
	autoScale bool
}

func validTypeName(name string) bool {
	_, ok := parseTypeName(name)
	return ok
}

// parseTypeName understands the names of Options.Types, a few common
// aliases, and decimal(p,s) / decimal(s) with an explicit scale.
func parseTypeName(name string) (forcedType, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "integer", "int", "int64", "bigint":
		return forcedType{colType: colType{kind: kInt}}, true
	case "decimal", "numeric":
		return forcedType{colType: colType{kind: kDecimal}, autoScale: true}, true
	case "float", "double", "float64":
		return forcedType{colType: colType{kind: kFloat}}, true
	case "boolean", "bool":
		return forcedType{colType: colType{kind: kBool}}, true
	case "timestamp":
		return forcedType{colType: colType{kind: kTimestamp}}, true
	case "date":
		return forcedType{colType: colType{kind: kDate}}, true
	case "text", "string":
		return forcedType{colType: colType{kind: kText}}, true
	case "json":
		return forcedType{colType: colType{kind: kJSON}}, true
	}
	for _, p := range []string{"decimal(", "numeric("} {
		if !strings.HasPrefix(n, p) || !strings.HasSuffix(n, ")") {
			continue
		}
		args := strings.Split(n[len(p):len(n)-1], ",")
		s := args[len(args)-1]
		if len(args) > 2 {
			return forcedType{}, false
		}
		if len(args) == 2 {
			prec, err := strconv.Atoi(strings.TrimSpace(args[0]))
			if err != nil || prec < 1 || prec > maxDecimalDigits {
				return forcedType{}, false
			}
		}
		scale, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || scale < 0 || scale > maxDecimalDigits {
			return forcedType{}, false
		}
		return forcedType{colType: colType{kind: kDecimal, scale: int32(scale)}}, true
	}
	return forcedType{}, false
}

// Value classes seen by CSV inference.
const (
	cInt uint16 = 1 << iota
	cDec
	cFloat
	cBool
	cDate
	cTimestamp
	cText
	cEmpty
)

// maxExactInt is the largest integer magnitude float64 holds exactly.
const maxExactInt = 1 << 53

// colStats accumulates what inference learned about one column.
type colStats struct {
	seen     uint16
	maxScale int
	maxInt   int  // most integer digits of a decimal value
	inexact  bool // some numeric value would not survive float64
	// the first value that made the column text, for TableInfo.Notes
	textLine   int
	textSample string
}

func (st *colStats) isText() bool { return st.seen&(cText|cEmpty) != 0 }

// observeColumn classifies column c of the scanner's current chunk. The
// loops are specialised for the type the column has held so far, which is
// almost always the answer; a value of another class goes through observe.
// It stops early once the column is text, unless keepGoing.
func (st *colStats) observeColumn(sc *csvScanner, c, ncol, rows int, null nullMatcher, keepGoing bool) {
	spans := sc.spans
	r := 0
	switch st.seen {
	case cInt:
		for ; r < rows; r++ {
			sp := spans[r*ncol+c]
			f := sc.text(sp)
			if null.set && null.match(f, sp.quoted) {
				continue
			}
			// a canonical integer of at most 15 digits: exact in float64
			i := 0
			if len(f) > 0 && f[0] == '-' {
				i = 1
			}
			d := len(f) - i
			if d == 0 || d > 15 || (f[i] == '0' && d > 1) {
				goto slow
			}
			for _, ch := range f[i:] {
				if ch-'0' > 9 {
					goto slow
				}
			}
			if f[i] != '0' {
				st.maxInt = max(st.maxInt, d)
			}
			continue
		slow:
			st.observe(f, int(sc.lines[r]))
			if st.seen != cInt {
				r++
				break
			}
		}
	case cDec, cInt | cDec:
		for ; r < rows; r++ {
			sp := spans[r*ncol+c]
			f := sc.text(sp)
			if null.set && null.match(f, sp.quoted) {
				continue
			}
			// [-]digits[.digits] of at most 15 digits: exact in float64
			i := 0
			if len(f) > 0 && f[0] == '-' {
				i = 1
			}
			start, point := i, -1
			for ; i < len(f); i++ {
				if f[i]-'0' > 9 {
					if f[i] != '.' || point >= 0 {
						break
					}
					point = i
				}
			}
			intLen, digits := point-start, len(f)-start-1
			if point < 0 {
				intLen, digits = len(f)-start, len(f)-start
			}
			if i != len(f) || intLen == 0 || point == len(f)-1 || digits > 15 || (f[start] == '0' && intLen > 1) {
				st.observe(f, int(sc.lines[r]))
				if st.seen&^(cInt|cDec) != 0 {
					r++
					break
				}
				continue
			}
			if f[start] == '0' {
				intLen = 0
			}
			st.maxInt = max(st.maxInt, intLen)
			if point < 0 {
				st.seen |= cInt
			} else {
				st.maxScale = max(st.maxScale, len(f)-point-1)
			}
		}
	case cTimestamp:
		for ; r < rows; r++ {
			sp := spans[r*ncol+c]
			f := sc.text(sp)
			if null.set && null.match(f, sp.quoted) {
				continue
			}
			if _, ok := parseTimestamp(f); !ok {
				st.observe(f, int(sc.lines[r]))
				r++
				break
			}
		}
	case cDate:
		for ; r < rows; r++ {
			sp := spans[r*ncol+c]
			f := sc.text(sp)
			if null.set && null.match(f, sp.quoted) {
				continue
			}
			if _, ok := parseDate(f); !ok {
				st.observe(f, int(sc.lines[r]))
				r++
				break
			}
		}
	case cBool:
		for ; r < rows; r++ {
			sp := spans[r*ncol+c]
			f := sc.text(sp)
			if null.set && null.match(f, sp.quoted) {
				continue
			}
			if _, ok := parseBool(f); !ok {
				st.observe(f, int(sc.lines[r]))
				r++
				break
			}
		}
	}
	for ; r < rows; r++ {
		if st.isText() && !keepGoing {
			return
		}
		sp := spans[r*ncol+c]
		f := sc.text(sp)
		if null.set && null.match(f, sp.quoted) {
			continue
		}
		st.observe(f, int(sc.lines[r]))
	}
}

// observe classifies one non-NULL CSV field. It first checks the type the
// column has held so far, which is almost always the answer.
func (st *colStats) observe(b []byte, line int) {
	switch st.seen {
	case cTimestamp:
		if _, ok := parseTimestamp(b); ok {
			return
		}
	case cDate:
		if _, ok := parseDate(b); ok {
			return
		}
	case cBool:
		if _, ok := parseBool(b); ok {
			return
		}
	}
	cls := st.classify(b)
	if cls&(cText|cEmpty) != 0 && !st.isText() {
		st.textLine = line
		st.textSample = sample(b)
	}
	st.seen |= cls
}

func sample(b []byte) string {
	const max = 40
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// classify returns the class of a field and folds its numeric facts into st.
func (st *colStats) classify(b []byte) uint16 {
	if len(b) == 0 {
		return cEmpty
	}
	c := b[0]
	switch {
	case isDigit(c) || c == '-':
		if len(b) >= 10 && b[4] == '-' && isDigit(c) {
			if len(b) == 10 {
				if _, ok := parseDate(b); ok {
					return cDate
				}
				return cText
			}
			if _, ok := parseTimestamp(b); ok {
				return cTimestamp
			}
			return cText
		}
		return st.classifyNumber(b)
	case c == 't' || c == 'T' || c == 'f' || c == 'F':
		if _, ok := parseBool(b); ok {
			return cBool
		}
	case c == 'n' || c == 'N' || c == 'i' || c == 'I':
		if isSpecialFloat(b) {
			return cFloat
		}
	}
	return cText
}

func (st *colStats) classifyNumber(b []byte) uint16 {
	i := 0
	if b[0] == '-' {
		i = 1
	}
	intStart := i
	var u uint64
	for ; i < len(b); i++ {
		d := b[i] - '0'
		if d > 9 {
			break
		}
		u = u*10 + uint64(d) // may wrap past 19 digits; checked below
	}
	intLen := i - intStart
	if intLen == 0 {
		if isSpecialFloat(b) {
			return cFloat
		}
		return cText
	}
	if intLen > 1 && b[intStart] == '0' {
		return cText // 00123: an identifier, not a number
	}
	intDigits := intLen
	if u == 0 {
		intDigits = 0
	}
	if i == len(b) {
		if intLen > 18 {
			if _, ok := parseCanonicalInt(b); !ok {
				return cText // beyond int64
			}
			st.inexact = true
		} else if u > maxExactInt {
			st.inexact = true
		}
		st.maxInt = max(st.maxInt, intDigits)
		return cInt
	}
	if b[i] == '.' {
		i++
		fs := i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		scale := i - fs
		if scale == 0 {
			return cText
		}
		if i == len(b) {
			if intDigits+scale > maxDecimalDigits {
				return cText
			}
			st.maxScale = max(st.maxScale, scale)
			st.maxInt = max(st.maxInt, intDigits)
			if intLen+scale > 15 && !st.inexact {
				if s := decimalShape(b); s.sig > 15 && !floatRoundTrips(b) {
					st.inexact = true
				}
			}
			return cDec
		}
	}
	if b[i] == 'e' || b[i] == 'E' {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		es := i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		if i > es && i == len(b) && floatRoundTrips(b) {
			return cFloat
		}
	}
	return cText
}

// resolve turns the classes seen in a column into its type. It never picks
// a type that would lose information: when in doubt the column is text.
func (st *colStats) resolve() colType {
	s := st.seen
	switch {
	case s == 0 || s&(cText|cEmpty) != 0:
		return colType{kind: kText}
	case s == cInt:
		return colType{kind: kInt}
	case s&^(cInt|cDec) == 0:
		if st.maxInt+st.maxScale <= maxDecimalDigits {
			return colType{kind: kDecimal, scale: int32(st.maxScale)}
		}
		return colType{kind: kText}
	case s&^(cInt|cDec|cFloat) == 0:
		if s == cFloat || !st.inexact {
			return colType{kind: kFloat}
		}
		return colType{kind: kText}
	case s == cBool:
		return colType{kind: kBool}
	case s == cDate:
		return colType{kind: kDate}
	case s&^(cDate|cTimestamp) == 0:
		return colType{kind: kTimestamp}
	}
	return colType{kind: kText}
}

// note explains, for TableInfo.Notes, why a column that held other values
// was read as text; "" when there is nothing worth saying.
func (st *colStats) note(name string) string {
	other := st.seen &^ (cText | cEmpty)
	if !st.isText() || other == 0 {
		return ""
	}
	var kinds []string
	for _, k := range []struct {
		c    uint16
		name string
	}{{cInt, "integer"}, {cDec, "decimal"}, {cFloat, "float"}, {cBool, "boolean"}, {cDate, "date"}, {cTimestamp, "timestamp"}} {
		if other&k.c != 0 {
			kinds = append(kinds, k.name)
		}
	}
	if st.textSample == "" {
		return fmt.Sprintf("column %q read as text: it holds %s values and an empty value (line %d); set a NULL marker to read empty fields as NULL",
			name, strings.Join(kinds, "/"), st.textLine)
	}
	return fmt.Sprintf("column %q read as text: it holds %s values and %q (line %d)",
		name, strings.Join(kinds, "/"), st.textSample, st.textLine)
}
