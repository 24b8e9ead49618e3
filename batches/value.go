package batches

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/reconcile"
)

// The JSON form of a value in ops.jsonl. It keeps the kind of every value
// so that reading it back gives the same canonical bytes:
//
//	NULL                  null
//	boolean               true | false
//	integer (int64)       42
//	other number          {"num":"1.5e+30"}  ("NaN", "Infinity", "-Infinity")
//	text (UTF-8)          "text"
//	text (not UTF-8)      {"text_b64":"..."}
//	binary                {"bin":"base64"}
//	timestamp             {"ts":"2026-11-26T02:00:00.123456Z"} or {"ts_us":N} outside years 1-9999
//	date                  {"date":"2026-11-26"} or {"date_days":N} outside years 1-9999
//	time of day           {"time":"-838:59:59.5"}
//	JSON document         {"json":<document>}
//	invalid               {"invalid":"0000-00-00"}

func appendValueJSON(b []byte, v reconcile.Value) ([]byte, error) {
	switch v.Kind() {
	case "null":
		return append(b, "null"...), nil
	case "boolean":
		x, _ := v.Bool()
		return strconv.AppendBool(b, x), nil
	case "number":
		if i, ok := v.Int(); ok {
			return strconv.AppendInt(b, i, 10), nil
		}
		t, ok := v.NumberText()
		if !ok {
			return b, errors.New("encode value: malformed number")
		}
		b = append(b, `{"num":`...)
		b = strconv.AppendQuote(b, t)
		return append(b, '}'), nil
	case "text":
		t, ok := v.Text()
		if !ok {
			return b, errors.New("encode value: malformed text")
		}
		if utf8.ValidString(t) {
			return appendJSONString(b, t), nil
		}
		b = append(b, `{"text_b64":"`...)
		b = base64.StdEncoding.AppendEncode(b, []byte(t))
		return append(b, `"}`...), nil
	case "binary":
		x, ok := v.Binary()
		if !ok {
			return b, errors.New("encode value: malformed binary")
		}
		b = append(b, `{"bin":"`...)
		b = base64.StdEncoding.AppendEncode(b, x)
		return append(b, `"}`...), nil
	case "timestamp":
		t, ok := v.Timestamp()
		if !ok {
			return b, errors.New("encode value: malformed timestamp")
		}
		if y := t.Year(); y < 1 || y > 9999 {
			b = append(b, `{"ts_us":`...)
			b = strconv.AppendInt(b, t.UnixMicro(), 10)
			return append(b, '}'), nil
		}
		b = append(b, `{"ts":"`...)
		b = t.AppendFormat(b, "2006-01-02T15:04:05.999999Z")
		return append(b, `"}`...), nil
	case "date":
		t, ok := v.Date()
		if !ok {
			return b, errors.New("encode value: malformed date")
		}
		if y := t.Year(); y < 1 || y > 9999 {
			b = append(b, `{"date_days":`...)
			b = strconv.AppendInt(b, t.Unix()/86400, 10)
			return append(b, '}'), nil
		}
		b = append(b, `{"date":"`...)
		b = t.AppendFormat(b, "2006-01-02")
		return append(b, `"}`...), nil
	case "time":
		d, ok := v.TimeOfDay()
		if !ok {
			return b, errors.New("encode value: malformed time")
		}
		b = append(b, `{"time":"`...)
		b = append(b, connectors.TimeOfDay(d).String()...)
		return append(b, `"}`...), nil
	case "json":
		doc, ok := v.JSON()
		if !ok || !json.Valid(doc) {
			return b, errors.New("encode value: malformed json")
		}
		b = append(b, `{"json":`...)
		b = append(b, doc...)
		return append(b, '}'), nil
	}
	// Invalid: keep its description.
	s := v.String()
	s = strings.TrimSuffix(strings.TrimPrefix(s, "<invalid: "), ">")
	b = append(b, `{"invalid":`...)
	b = appendJSONString(b, strings.ToValidUTF8(s, "\uFFFD"))
	return append(b, '}'), nil
}

func appendJSONString(b []byte, s string) []byte {
	plain := utf8.ValidString(s)
	for i := 0; plain && i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			plain = false
		}
	}
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a valid UTF-8 string always encodes
	return append(b, bytes.TrimRight(buf.Bytes(), "\n")...)
}

// decodeValue reads the JSON form of one value.
func decodeValue(raw json.RawMessage) (reconcile.Value, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("empty value")
	}
	switch raw[0] {
	case 'n':
		if string(raw) != "null" {
			return nil, fmt.Errorf("bad value %.40q", raw)
		}
		return reconcile.Null, nil
	case 't', 'f':
		var x bool
		if err := json.Unmarshal(raw, &x); err != nil {
			return nil, fmt.Errorf("bad boolean: %w", err)
		}
		return reconcile.AppendBool(nil, x), nil
	case '"':
		s, err := jsonString(raw)
		if err != nil {
			return nil, fmt.Errorf("bad text: %w", err)
		}
		return reconcile.AppendText(nil, s), nil
	case '{':
		return decodeTagged(raw)
	}
	i, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("bad value %.40q: integers are written as int64, other numbers as {\"num\": ...}", raw)
	}
	return reconcile.AppendInt(nil, i), nil
}

func decodeTagged(raw json.RawMessage) (reconcile.Value, error) {
	var v reconcile.Value
	n := 0
	err := members(raw, func(tag string, body []byte) error {
		n++
		if n > 1 {
			return fmt.Errorf("bad value %.60q: want an object of one member", raw)
		}
		var err error
		v, err = decodeMember(tag, body)
		return err
	})
	if err == nil && n != 1 {
		err = fmt.Errorf("bad value %.60q: want an object of one member", raw)
	}
	return v, err
}

func decodeMember(tag string, body []byte) (reconcile.Value, error) {
	{
		str := func() (string, error) {
			s, err := jsonString(bytes.TrimSpace(body))
			if err != nil {
				return "", fmt.Errorf("bad %s value: %w", tag, err)
			}
			return s, nil
		}
		integer := func() (int64, error) {
			i, err := strconv.ParseInt(string(bytes.TrimSpace(body)), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("bad %s value: %w", tag, err)
			}
			return i, nil
		}
		switch tag {
		case "num":
			s, err := str()
			if err != nil {
				return nil, err
			}
			v, ok := reconcile.NumberFromText(nil, s)
			if !ok || strings.TrimSpace(s) != s {
				return nil, fmt.Errorf("bad number %.40q", s)
			}
			return v, nil
		case "text_b64", "bin":
			s, err := str()
			if err != nil {
				return nil, err
			}
			x, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("bad %s value: %w", tag, err)
			}
			if tag == "bin" {
				return reconcile.AppendBinary(nil, x), nil
			}
			return reconcile.AppendTextBytes(nil, x), nil
		case "ts":
			s, err := str()
			if err != nil {
				return nil, err
			}
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, fmt.Errorf("bad timestamp: %w", err)
			}
			return reconcile.AppendTimestamp(nil, t.UnixMicro()), nil
		case "ts_us":
			i, err := integer()
			if err != nil {
				return nil, err
			}
			return reconcile.AppendTimestamp(nil, i), nil
		case "date":
			s, err := str()
			if err != nil {
				return nil, err
			}
			t, err := time.Parse("2006-01-02", s)
			if err != nil {
				return nil, fmt.Errorf("bad date: %w", err)
			}
			return reconcile.AppendDate(nil, int32(t.Unix()/86400)), nil
		case "date_days":
			i, err := integer()
			if err != nil {
				return nil, err
			}
			if i < math.MinInt32 || i > math.MaxInt32 {
				return nil, fmt.Errorf("bad date_days %d", i)
			}
			return reconcile.AppendDate(nil, int32(i)), nil
		case "time":
			s, err := str()
			if err != nil {
				return nil, err
			}
			us, err := parseTimeOfDay(s)
			if err != nil {
				return nil, err
			}
			return reconcile.AppendTime(nil, us), nil
		case "json":
			v, err := reconcile.AppendJSON(nil, body)
			if err != nil {
				return nil, fmt.Errorf("bad json value: %w", err)
			}
			return v, nil
		case "invalid":
			s, err := str()
			if err != nil {
				return nil, err
			}
			return reconcile.AppendInvalid(nil, s), nil
		}
		return nil, fmt.Errorf("bad value: unknown tag %.40q", tag)
	}
}

// parseTimeOfDay reads [-]H+:MM:SS[.f{1,6}] as microseconds.
func parseTimeOfDay(s string) (int64, error) {
	bad := fmt.Errorf("bad time %.40q", s)
	neg := strings.HasPrefix(s, "-")
	rest := strings.TrimPrefix(s, "-")
	parts := strings.Split(rest, ":")
	if len(parts) != 3 || len(parts[1]) != 2 || len(parts[0]) == 0 || len(parts[0]) > 12 {
		return 0, bad
	}
	sec, frac, hasFrac := strings.Cut(parts[2], ".")
	if len(sec) != 2 || (hasFrac && (len(frac) == 0 || len(frac) > 6)) {
		return 0, bad
	}
	num := func(t string) (int64, bool) {
		var n int64
		for i := 0; i < len(t); i++ {
			if t[i] < '0' || t[i] > '9' {
				return 0, false
			}
			n = n*10 + int64(t[i]-'0')
		}
		return n, true
	}
	h, ok1 := num(parts[0])
	m, ok2 := num(parts[1])
	sc, ok3 := num(sec)
	if !ok1 || !ok2 || !ok3 || m > 59 || sc > 59 || h > 2_000_000_000 {
		return 0, bad
	}
	us := ((h*60+m)*60 + sc) * 1_000_000
	if hasFrac {
		f, ok := num(frac + strings.Repeat("0", 6-len(frac)))
		if !ok {
			return 0, bad
		}
		us += f
	}
	if neg {
		us = -us
	}
	return us, nil
}

// Neutral converts a canonical value to the neutral value a connector
// binds (see connectors.Applier).
func Neutral(v reconcile.Value) (any, error) {
	switch v.Kind() {
	case "null":
		return nil, nil
	case "boolean":
		x, _ := v.Bool()
		return x, nil
	case "number":
		if i, ok := v.Int(); ok {
			return i, nil
		}
		if t, ok := v.NumberText(); ok {
			return connectors.Decimal(t), nil
		}
	case "text":
		if t, ok := v.Text(); ok {
			return t, nil
		}
	case "binary":
		if x, ok := v.Binary(); ok {
			return x, nil
		}
	case "timestamp":
		if t, ok := v.Timestamp(); ok {
			return t, nil
		}
	case "date":
		if t, ok := v.Date(); ok {
			return connectors.Date(t.Unix() / 86400), nil
		}
	case "time":
		if d, ok := v.TimeOfDay(); ok {
			return connectors.TimeOfDay(d), nil
		}
	case "json":
		if doc, ok := v.JSON(); ok {
			return json.RawMessage(doc), nil
		}
	}
	return nil, fmt.Errorf("convert value %s: %w", v.String(), ErrUnwritable)
}
