package batches

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/reconcile"
)

// Cell is one column and its canonical value.
type Cell struct {
	Column string
	Value  reconcile.Value
}

// Op is one guarded change of one row of the target, as ops.jsonl holds it.
//
//   - insert: Set is the whole row, key columns included; Expect is empty.
//   - update: Set holds only the changed columns (new values); Expect holds
//     the values the target stores in those columns (the pre-image).
//   - delete: Set is empty; Expect is the whole row as the target stores it
//     (the undo batch re-inserts it).
//
// Rule names the rule that made the fix, for people.
type Op struct {
	Seq    int // 1-based position in the batch, set by Create
	Kind   connectors.OpKind
	Key    []Cell
	Set    []Cell
	Expect []Cell
	Rule   string
}

// Expected returns the value op expects column to hold when it runs (its
// pre-image), if it names the column.
func (op *Op) Expected(column string) (reconcile.Value, bool) {
	for _, c := range op.Expect {
		if c.Column == column {
			return c.Value, true
		}
	}
	return nil, false
}

// MaxLine bounds one line of ops.jsonl (and of journal.jsonl).
const MaxLine = 64 << 20

func (op *Op) validate() error {
	var errs []error
	switch op.Kind {
	case connectors.OpInsert:
		if len(op.Set) == 0 || len(op.Expect) != 0 {
			errs = append(errs, errors.New("an insert has the whole row in set and no expect"))
		}
	case connectors.OpUpdate:
		if len(op.Set) == 0 {
			errs = append(errs, errors.New("an update changes at least one column"))
		}
	case connectors.OpDelete:
		if len(op.Set) != 0 {
			errs = append(errs, errors.New("a delete has no set"))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown kind %q", op.Kind))
	}
	if len(op.Key) == 0 {
		errs = append(errs, errors.New("no key"))
	}
	for _, part := range [][]Cell{op.Key, op.Set, op.Expect} {
		seen := map[string]bool{}
		for _, c := range part {
			if c.Column == "" {
				errs = append(errs, errors.New("empty column name"))
			}
			if seen[c.Column] {
				errs = append(errs, fmt.Errorf("column %q twice", c.Column))
			}
			seen[c.Column] = true
			if len(c.Value) == 0 {
				errs = append(errs, fmt.Errorf("column %q has no value", c.Column))
			}
		}
	}
	for _, c := range op.Key {
		if c.Value.IsNull() {
			errs = append(errs, fmt.Errorf("key column %q is NULL", c.Column))
		}
	}
	return errors.Join(errs...)
}

// appendOp appends op as one line of ops.jsonl.
func appendOp(b []byte, op *Op) ([]byte, error) {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, int64(op.Seq), 10)
	b = append(b, `,"kind":`...)
	b = strconv.AppendQuote(b, string(op.Kind))
	var err error
	for _, part := range []struct {
		name  string
		cells []Cell
	}{{"key", op.Key}, {"set", op.Set}, {"expect", op.Expect}} {
		if len(part.cells) == 0 && part.name != "key" {
			continue
		}
		b = append(b, `,"`...)
		b = append(b, part.name...)
		b = append(b, `":{`...)
		for i, c := range part.cells {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, c.Column)
			b = append(b, ':')
			if b, err = appendValueJSON(b, c.Value); err != nil {
				return b, fmt.Errorf("column %q: %w", c.Column, err)
			}
		}
		b = append(b, '}')
	}
	if op.Rule != "" {
		b = append(b, `,"rule":`...)
		b = appendJSONString(b, op.Rule)
	}
	return append(b, "}\n"...), nil
}

// parseOp reads one line of ops.jsonl.
func parseOp(line []byte) (Op, error) {
	var raw struct {
		Seq    *int            `json:"seq"`
		Kind   string          `json:"kind"`
		Key    json.RawMessage `json:"key"`
		Set    json.RawMessage `json:"set"`
		Expect json.RawMessage `json:"expect"`
		Rule   string          `json:"rule"`
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Op{}, err
	}
	if dec.More() {
		return Op{}, errors.New("trailing data")
	}
	if raw.Seq == nil {
		return Op{}, errors.New("no seq")
	}
	op := Op{Seq: *raw.Seq, Kind: connectors.OpKind(raw.Kind), Rule: raw.Rule}
	var err error
	if op.Key, err = parseCells(raw.Key); err != nil {
		return Op{}, fmt.Errorf("key: %w", err)
	}
	if op.Set, err = parseCells(raw.Set); err != nil {
		return Op{}, fmt.Errorf("set: %w", err)
	}
	if op.Expect, err = parseCells(raw.Expect); err != nil {
		return Op{}, fmt.Errorf("expect: %w", err)
	}
	if err := op.validate(); err != nil {
		return Op{}, err
	}
	return op, nil
}

// parseCells reads a JSON object of column → value, keeping the order.
func parseCells(raw json.RawMessage) ([]Cell, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var cells []Cell
	err := members(raw, func(name string, v []byte) error {
		val, err := decodeValue(v)
		if err != nil {
			return fmt.Errorf("column %q: %w", name, err)
		}
		cells = append(cells, Cell{Column: name, Value: val})
		return nil
	})
	return cells, err
}

// members calls fn with each member of a JSON object, in order. raw is
// part of a document json.Decoder accepted, so it is valid JSON: members
// are found by tracking strings and nesting.
func members(raw []byte, fn func(name string, v []byte) error) error {
	if len(raw) == 0 || raw[0] != '{' {
		return errors.New("want an object")
	}
	i := skipSpace(raw, 1)
	if i < len(raw) && raw[i] == '}' {
		return nil
	}
	for i < len(raw) {
		if raw[i] != '"' {
			return errors.New("want a member name")
		}
		end := skipString(raw, i)
		name, err := jsonString(raw[i:end])
		if err != nil {
			return err
		}
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return errors.New("want ':'")
		}
		i = skipSpace(raw, i+1)
		vend := skipValue(raw, i)
		if err := fn(name, raw[i:vend]); err != nil {
			return err
		}
		i = skipSpace(raw, vend)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
			continue
		}
		if i < len(raw) && raw[i] == '}' {
			return nil
		}
		return errors.New("want ',' or '}'")
	}
	return errors.New("unterminated object")
}

// jsonString decodes a JSON string; plain ones without a copy through
// encoding/json.
func jsonString(raw []byte) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		body := raw[1 : len(raw)-1]
		if bytes.IndexByte(body, '\\') < 0 && bytes.IndexByte(body, '"') < 0 && utf8.Valid(body) && !hasControl(body) {
			return string(body), nil
		}
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the (valid) JSON value at b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i = skipString(b, i)
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return i
}

// ReadOps reads ops.jsonl. Every line must be a valid operation, numbered
// 1, 2, 3, ... in order.
func ReadOps(r io.Reader) ([]Op, error) {
	var ops []Op
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	n := 0
	for sc.Scan() {
		n++
		op, err := parseOp(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("read ops: line %d: %w: %w", n, ErrCorrupt, err)
		}
		if op.Seq != n {
			return nil, fmt.Errorf("read ops: line %d: %w: seq %d out of order", n, ErrCorrupt, op.Seq)
		}
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read ops: line %d: %w: %w", n+1, ErrCorrupt, err)
	}
	return ops, nil
}

// writeOp converts op to the connector's neutral form.
func writeOp(op *Op) (connectors.WriteOp, error) {
	conv := func(cells []Cell) ([]connectors.Col, error) {
		if len(cells) == 0 {
			return nil, nil
		}
		out := make([]connectors.Col, len(cells))
		for i, c := range cells {
			v, err := Neutral(c.Value)
			if err != nil {
				return nil, fmt.Errorf("column %q: %w", c.Column, err)
			}
			out[i] = connectors.Col{Name: c.Column, Value: v}
		}
		return out, nil
	}
	w := connectors.WriteOp{Kind: op.Kind}
	var err error
	if w.Key, err = conv(op.Key); err != nil {
		return w, err
	}
	if w.Set, err = conv(op.Set); err != nil {
		return w, err
	}
	w.Expect, err = conv(op.Expect)
	return w, err
}
