package rules

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// folders pools Unicode case folders: a cases.Caser keeps state and may
// not be shared between goroutines, and both sides normalise at once.
var folders = sync.Pool{New: func() any { c := cases.Fold(); return &c }}

// fold is Unicode full case folding, the standard form for caseless
// matching: "Straße", "STRASSE" and "strasse" all fold to "strasse".
func fold(s string) string {
	if isLowerASCII(s) {
		return s
	}
	c := folders.Get().(*cases.Caser)
	out := c.String(s)
	folders.Put(c)
	return out
}

func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b >= utf8.RuneSelf || 'A' <= b && b <= 'Z' {
			return false
		}
	}
	return true
}

// unaccent removes combining marks: "Crème brûlée" becomes "Creme
// brulee". Letters that are not a base letter and a mark (ø, ł, ß) stay.
func unaccent(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	d := norm.NFD.String(s)
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return norm.NFC.String(b.String())
}

// CollationChain returns the normalisers under which text compares the
// way MySQL or MariaDB compares it under the given collations (one per
// side; the most lenient wins), and whether any of them ignores anything
// at all (false for binary and case- and accent-sensitive ones, whose
// chain is empty):
//
//   - case-insensitive (_ci): fold;
//   - accent-insensitive (_ai, and the older _ci collations, which are):
//     unaccent;
//   - PAD SPACE (every collation but the 0900 ones and _nopad_): trailing
//     spaces ignored: trim_end.
//
// The result approximates the collations' rules with Unicode case
// folding and the removal of combining marks; it never makes two values
// equal that differ in their letters.
func CollationChain(collations ...string) (Chain, bool) {
	var ci, ai, padSpace bool
	for _, collation := range collations {
		c := strings.ToLower(strings.TrimSpace(collation))
		if c == "" || c == "binary" || strings.HasSuffix(c, "_bin") {
			continue
		}
		parts := strings.Split(c, "_")
		has := func(p string) bool {
			for _, x := range parts[1:] {
				if x == p {
					return true
				}
			}
			return false
		}
		ci = ci || has("ci")
		// utf8mb4_general_ci, utf8mb4_unicode_ci, latin1_swedish_ci…:
		// insensitive to accents as well as case.
		ai = ai || has("ai") || has("ci") && !has("as")
		padSpace = padSpace || !has("0900") && !has("nopad")
	}
	var out Chain
	if padSpace {
		out = append(out, Normaliser{op: opTrimEnd})
	}
	if ai {
		out = append(out, Normaliser{op: opUnaccent})
	}
	if ci {
		out = append(out, Normaliser{op: opFold})
	}
	return out, len(out) > 0
}
