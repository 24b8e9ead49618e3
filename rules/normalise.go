package rules

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/reconhq/reconcile/reconcile"
)

// op names one normaliser.
type op uint8

const (
	opTrim op = iota + 1
	opLower
	opUpper
	opCollapseSpaces
	opNFC
	opRound
	opTruncate
	opAlias
	opNullIfEmpty
	opTimeZone
	opTruncateTime
	opFold
	opUnaccent
	opTrimEnd
)

var opNames = [...]string{
	opTrim: "trim", opLower: "lower", opUpper: "upper", opCollapseSpaces: "collapse_spaces",
	opNFC: "nfc", opRound: "round", opTruncate: "truncate", opAlias: "alias",
	opNullIfEmpty: "null_if_empty", opTimeZone: "time_zone", opTruncateTime: "truncate_time",
	opFold: "fold", opUnaccent: "unaccent", opTrimEnd: "trim_end",
}

// Time units of truncate_time.
var timeUnits = map[string]time.Duration{
	"second":      time.Second,
	"millisecond": time.Millisecond,
	"minute":      time.Minute,
	"hour":        time.Hour,
	"day":         24 * time.Hour,
}

// maxRound bounds round(n): more decimal places than any column holds.
const maxRound = 76

// Normaliser is one step of a Chain. The zero Normaliser is not valid;
// build them with ParseChain.
type Normaliser struct {
	op    op
	n     int               // round, truncate
	alias map[string]string // variant → canonical
	spec  string            // alias: the canonical form of the map, for String
	zone  *time.Location
	unit  time.Duration // truncate_time
	uname string
}

// String renders the normaliser as it is written in a config.
func (n Normaliser) String() string {
	switch n.op {
	case opRound, opTruncate:
		return fmt.Sprintf("%s(%d)", opNames[n.op], n.n)
	case opAlias:
		return "alias" + n.spec
	case opTimeZone:
		return "time_zone(" + n.zone.String() + ")"
	case opTruncateTime:
		return "truncate_time(" + n.uname + ")"
	}
	if int(n.op) < len(opNames) && n.op != 0 {
		return opNames[n.op]
	}
	return "invalid"
}

// Chain is the ordered list of normalisers of one column. The zero Chain
// changes nothing.
type Chain []Normaliser

// Reshapes reports whether the chain maps one storage form onto another:
// time_zone reads one side's wall-clock times as instants, truncate_time
// drops precision one side lacks. One side's stored value is then not
// what the other side would store for it, so a fix must not copy it
// across.
func (c Chain) Reshapes() bool {
	for _, n := range c {
		if n.op == opTimeZone || n.op == opTruncateTime {
			return true
		}
	}
	return false
}

// String renders the chain as "trim, lower".
func (c Chain) String() string {
	parts := make([]string, len(c))
	for i, n := range c {
		parts[i] = n.String()
	}
	return strings.Join(parts, ", ")
}

const accepted = `trim, trim_end, lower, upper, fold, unaccent, collapse_spaces, nfc, null_if_empty, "round(N)", "truncate(N)", ` +
	`{round: N}, {truncate: N}, {alias: {CANONICAL: [VARIANT, ...]}}, {time_zone: ZONE}, {truncate_time: second|millisecond|minute|hour|day}`

// ParseChain reads a column's normalisers from YAML-decoded values: each
// item is a name ("trim", "round(2)", "truncate(60)") or a map of one key
// ({round: 2}, {alias: {US: [USA]}}, {time_zone: Europe/Paris},
// {truncate_time: minute}). Every bad item is reported, by index.
func ParseChain(items []any) (Chain, error) {
	var out Chain
	var problems []error
	for i, it := range items {
		n, err := parseItem(it)
		if err != nil {
			problems = append(problems, fmt.Errorf("normaliser %d: %w (accepted: %s)", i, err, accepted))
			continue
		}
		out = append(out, n)
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return out, nil
}

func parseItem(it any) (Normaliser, error) {
	switch v := it.(type) {
	case string:
		name, arg, hasArg := strings.Cut(strings.TrimSpace(v), "(")
		name = strings.TrimSpace(name)
		if hasArg {
			if !strings.HasSuffix(arg, ")") {
				return Normaliser{}, fmt.Errorf("%q: missing closing parenthesis", v)
			}
			return parseArg(name, strings.TrimSpace(strings.TrimSuffix(arg, ")")))
		}
		switch name {
		case "trim":
			return Normaliser{op: opTrim}, nil
		case "lower":
			return Normaliser{op: opLower}, nil
		case "upper":
			return Normaliser{op: opUpper}, nil
		case "collapse_spaces":
			return Normaliser{op: opCollapseSpaces}, nil
		case "nfc":
			return Normaliser{op: opNFC}, nil
		case "null_if_empty":
			return Normaliser{op: opNullIfEmpty}, nil
		case "fold":
			return Normaliser{op: opFold}, nil
		case "unaccent":
			return Normaliser{op: opUnaccent}, nil
		case "trim_end":
			return Normaliser{op: opTrimEnd}, nil
		case "round", "truncate", "alias", "time_zone", "truncate_time":
			return Normaliser{}, fmt.Errorf("%q needs an argument", name)
		}
		return Normaliser{}, fmt.Errorf("unknown normaliser %q", v)
	case map[string]any:
		if len(v) != 1 {
			return Normaliser{}, fmt.Errorf("a map normaliser has exactly one key, got %d", len(v))
		}
		for k, arg := range v {
			switch k {
			case "alias":
				return parseAlias(arg)
			case "round", "truncate":
				n, ok := asInt(arg)
				if !ok {
					return Normaliser{}, fmt.Errorf("%s: want a whole number, got %v", k, arg)
				}
				return parseArg(k, strconv.Itoa(n))
			case "time_zone", "truncate_time":
				s, ok := arg.(string)
				if !ok {
					return Normaliser{}, fmt.Errorf("%s: want a string, got %v", k, arg)
				}
				return parseArg(k, s)
			}
			return Normaliser{}, fmt.Errorf("unknown normaliser %q", k)
		}
	case nil:
		return Normaliser{}, errors.New("empty item")
	}
	return Normaliser{}, fmt.Errorf("want a name or a map of one key, got %T", it)
}

func asInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		if x >= math.MinInt32 && x <= math.MaxInt32 {
			return int(x), true
		}
	case uint64:
		if x <= math.MaxInt32 {
			return int(x), true
		}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) <= math.MaxInt32 {
			return int(x), true
		}
	}
	return 0, false
}

func parseArg(name, arg string) (Normaliser, error) {
	switch name {
	case "round":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 || n > maxRound {
			return Normaliser{}, fmt.Errorf("round(%s): want decimal places 0..%d", arg, maxRound)
		}
		return Normaliser{op: opRound, n: n}, nil
	case "truncate":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 {
			return Normaliser{}, fmt.Errorf("truncate(%s): want a number of characters >= 1", arg)
		}
		return Normaliser{op: opTruncate, n: n}, nil
	case "time_zone":
		if arg == "" || strings.EqualFold(arg, "local") {
			return Normaliser{}, fmt.Errorf("time_zone(%s): want an IANA zone name such as Europe/Paris or UTC", arg)
		}
		loc, err := time.LoadLocation(arg)
		if err != nil {
			return Normaliser{}, fmt.Errorf("time_zone(%s): unknown zone", arg)
		}
		return Normaliser{op: opTimeZone, zone: loc}, nil
	case "truncate_time":
		u, ok := timeUnits[arg]
		if !ok {
			return Normaliser{}, fmt.Errorf("truncate_time(%s): want second, millisecond, minute, hour or day", arg)
		}
		return Normaliser{op: opTruncateTime, unit: u, uname: arg}, nil
	case "alias":
		return Normaliser{}, errors.New("alias takes a map: {alias: {CANONICAL: [VARIANT, ...]}}")
	}
	return Normaliser{}, fmt.Errorf("unknown normaliser %q", name)
}

func parseAlias(arg any) (Normaliser, error) {
	m, ok := arg.(map[string]any)
	if !ok || len(m) == 0 {
		return Normaliser{}, errors.New("alias: want a map of canonical value to a list of variants")
	}
	alias := map[string]string{}
	canon := make([]string, 0, len(m))
	for c := range m {
		canon = append(canon, c)
	}
	sort.Strings(canon)
	var spec strings.Builder
	spec.WriteByte('{')
	for i, c := range canon {
		var variants []string
		switch vs := m[c].(type) {
		case []any:
			for _, v := range vs {
				s, ok := scalarText(v)
				if !ok {
					return Normaliser{}, fmt.Errorf("alias %q: a variant must be a scalar, got %T", c, v)
				}
				variants = append(variants, s)
			}
		case nil:
			return Normaliser{}, fmt.Errorf("alias %q: no variants", c)
		default:
			s, ok := scalarText(vs)
			if !ok {
				return Normaliser{}, fmt.Errorf("alias %q: want a list of variants, got %T", c, vs)
			}
			variants = []string{s}
		}
		if len(variants) == 0 {
			return Normaliser{}, fmt.Errorf("alias %q: no variants", c)
		}
		if i > 0 {
			spec.WriteString(", ")
		}
		fmt.Fprintf(&spec, "%s: [%s]", c, strings.Join(variants, ", "))
		for _, v := range variants {
			if prev, dup := alias[v]; dup && prev != c {
				return Normaliser{}, fmt.Errorf("alias: variant %q maps to both %q and %q", v, prev, c)
			}
			alias[v] = c
		}
	}
	spec.WriteByte('}')
	return Normaliser{op: opAlias, alias: alias, spec: spec.String()}, nil
}

func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int, int64, uint64, bool:
		return fmt.Sprint(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

// Text normalisers. ok=false means NULL.

func (n Normaliser) text(s string) (string, bool) {
	switch n.op {
	case opTrim:
		return strings.TrimSpace(s), true
	case opLower:
		return strings.ToLower(s), true
	case opUpper:
		return strings.ToUpper(s), true
	case opCollapseSpaces:
		return collapseSpaces(s), true
	case opNFC:
		return norm.NFC.String(s), true
	case opTruncate:
		return truncateRunes(s, n.n), true
	case opAlias:
		if c, ok := n.alias[s]; ok {
			return c, true
		}
		return s, true
	case opNullIfEmpty:
		return s, s != ""
	case opFold:
		return fold(s), true
	case opUnaccent:
		return unaccent(s), true
	case opTrimEnd:
		return strings.TrimRight(s, " "), true
	}
	return s, true
}

func (n Normaliser) isText() bool {
	switch n.op {
	case opTrim, opLower, opUpper, opCollapseSpaces, opNFC, opTruncate, opAlias, opNullIfEmpty, opFold, opUnaccent, opTrimEnd:
		return true
	}
	return false
}

// collapseSpaces replaces every run of white space with one space. It
// does not trim: chain trim for that.
func collapseSpaces(s string) string {
	var sb strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			if !space {
				sb.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		sb.WriteRune(r)
	}
	return sb.String()
}

// truncateRunes keeps the first n characters (code points; an invalid
// UTF-8 byte counts as one).
func truncateRunes(s string, n int) string {
	i := 0
	for k := 0; k < n; k++ {
		if i >= len(s) {
			return s
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i]
}

// roundRat rounds r to n decimal places, half away from zero, and renders
// it as plain decimal text with n places ("12.35", "-0.50", "3").
func roundRat(r *big.Rat, n int) string {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
	x := new(big.Rat).Mul(r, new(big.Rat).SetInt(scale))
	num, den := x.Num(), x.Denom()
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	// |m|*2 >= den: round away from zero.
	m.Abs(m).Lsh(m, 1)
	if m.Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	neg := q.Sign() < 0
	digits := new(big.Int).Abs(q).String()
	if n > 0 {
		if len(digits) <= n {
			digits = strings.Repeat("0", n-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-n] + "." + digits[len(digits)-n:]
	}
	if neg {
		digits = "-" + digits
	}
	return digits
}

// roundText rounds decimal or float text ("1.005", "1e-3", "NaN"). The
// non-finite values are left as they are.
func roundText(s string, n int) (string, error) {
	v, ok := reconcile.NumberFromText(nil, strings.TrimSpace(s))
	if !ok {
		return "", fmt.Errorf("round(%d): %q is not a number", n, s)
	}
	r, ok := reconcile.Value(v).Rat()
	if !ok {
		if t, ok := reconcile.Value(v).NumberText(); ok && (t == "NaN" || strings.HasSuffix(t, "Infinity")) {
			return s, nil
		}
		return "", fmt.Errorf("round(%d): %q is out of range", n, s)
	}
	return roundRat(r, n), nil
}

// roundFloat rounds the shortest round-trip decimal of f exactly and
// returns the nearest float of the result, for the given bit size.
func roundFloat(f float64, n, bits int) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return f
	}
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'e', -1, bits))
	if !ok {
		return f
	}
	out, err := strconv.ParseFloat(roundRat(r, n), bits)
	if err != nil {
		return f
	}
	if out == 0 {
		out = 0 // no negative zero
	}
	return out
}

// floorTo truncates x toward negative infinity to a multiple of unit.
func floorTo(x, unit int64) int64 {
	q := x / unit
	if x%unit != 0 && x < 0 {
		q--
	}
	return q * unit
}
