package rules

import "testing"

func TestFoldAndUnaccent(t *testing.T) {
	for in, want := range map[string]string{"Straße": "strasse", "STRASSE": "strasse", "strasse": "strasse", "ÉCOLE": "école", "ΣΊΣΥΦΟΣ": "σίσυφοσ", "": ""} {
		if got := fold(in); got != want {
			t.Errorf("fold(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"Crème brûlée": "Creme brulee", "e\u0301": "e", "Łódź": "Łodz", "ß": "ß", "plain": "plain"} {
		if got := unaccent(in); got != want {
			t.Errorf("unaccent(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCollationChain(t *testing.T) {
	for coll, want := range map[string]string{
		"utf8mb4_general_ci":       "trim_end, unaccent, fold",
		"utf8mb4_unicode_ci":       "trim_end, unaccent, fold",
		"latin1_swedish_ci":        "trim_end, unaccent, fold",
		"utf8mb4_0900_ai_ci":       "unaccent, fold",
		"utf8mb4_0900_as_ci":       "fold",
		"utf8mb4_0900_as_cs":       "",
		"utf8mb4_nopad_bin":        "",
		"utf8mb4_bin":              "",
		"binary":                   "",
		"":                         "",
		"utf8mb4_uca1400_ai_ci":    "trim_end, unaccent, fold",
		"utf8mb4_general_nopad_ci": "unaccent, fold",
	} {
		chain, ignores := CollationChain(coll)
		if chain.String() != want || ignores != (want != "") {
			t.Errorf("%s: %q %v, want %q", coll, chain.String(), ignores, want)
		}
	}
	// Two sides: the most lenient wins.
	if c, _ := CollationChain("utf8mb4_bin", "utf8mb4_0900_as_ci"); c.String() != "fold" {
		t.Errorf("bin + 0900_as_ci: %q", c.String())
	}
	if c, ok := CollationChain("utf8mb4_bin", ""); ok || len(c) != 0 {
		t.Errorf("bin + none: %q", c.String())
	}
	// Under a case- and accent-insensitive collation, Straße and STRASSE
	// compare equal; letters that differ never do.
	chain, _ := CollationChain("utf8mb4_unicode_ci")
	norm := func(s string) string {
		for _, n := range chain {
			s, _ = n.text(s)
		}
		return s
	}
	if norm("Straße ") != norm("STRASSE") || norm("Crème") != norm("CREME") || norm("Straße") == norm("Strafe") {
		t.Errorf("collation chain: %q %q %q", norm("Straße "), norm("STRASSE"), norm("Strafe"))
	}
}

func TestParseNewTextNormalisers(t *testing.T) {
	c, err := ParseChain([]any{"trim_end", "unaccent", "fold"})
	if err != nil || c.String() != "trim_end, unaccent, fold" {
		t.Fatalf("%v %q", err, c.String())
	}
}
