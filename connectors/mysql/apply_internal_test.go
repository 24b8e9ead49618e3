package mysql

import "testing"

func TestJSONGuardOf(t *testing.T) {
	for version, want := range map[string]string{
		"10.11.19-MariaDB-0+deb12u1": "JSON_EQUALS(%s, ?) <=> 1",
		"10.7.1-MariaDB":             "JSON_EQUALS(%s, ?) <=> 1",
		"11.4.2-MariaDB-log":         "JSON_EQUALS(%s, ?) <=> 1",
		"10.6.18-MariaDB":            "",
		"5.5.5-10.11.6-MariaDB":      "JSON_EQUALS(%s, ?) <=> 1", // the prefix older servers showed old clients
		"8.0.36":                     "%s <=> CAST(? AS JSON)",
		"8.4.0-commercial":           "%s <=> CAST(? AS JSON)",
		"5.7.44-log":                 "",
		"garbage":                    "",
	} {
		if got := jsonGuardOf(version); got != want {
			t.Errorf("%s: %q, want %q", version, got, want)
		}
	}
}
