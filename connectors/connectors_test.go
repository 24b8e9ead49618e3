package connectors

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRedact(t *testing.T) {
	cases := map[string]string{
		"postgres://app:s3cret@db/shop":                         "postgres://app:xxxxx@db/shop",
		"postgres://app:p%zz@db/shop":                           "postgres://app:xxxxx@db/shop",
		"postgres://app:pa/ss@db/shop":                          "postgres://app:xxxxx@db/shop",
		"postgres://app:pa#ss@db/shop?x=1":                      "postgres://app:xxxxx@db/shop?x=1",
		"mysql://root:p@ss@127.0.0.1:3306/x":                    "mysql://root:xxxxx@127.0.0.1:3306/x",
		"postgres://app@db/shop":                                "postgres://app@db/shop",
		"billing.csv":                                           "billing.csv",
		"/data/with:colon@and-at.csv":                           "/data/with:colon@and-at.csv",
		"file:///tmp/a.csv":                                     "file:///tmp/a.csv",
		"host=db user=app password=s3cret dbname=shop":          "host=db user=app password=xxxxx dbname=shop",
		"host=db password = 'pa/ss word' dbname=shop":           "host=db password = xxxxx dbname=shop",
		"sslpassword=p%zz host=db":                              "sslpassword=xxxxx host=db",
		"postgres://app@db/shop?sslmode=require&password=pa#ss": "postgres://app@db/shop?sslmode=require&password=xxxxx",
		"mysql://root@db/x?password=Hunter2;Zebra9&tls=true":    "mysql://root@db/x?password=xxxxx&tls=true",
		"mysql://root@db/x?pass=Hunter2#Zebra9":                 "mysql://root@db/x?pass=xxxxx",
	}
	for in, want := range cases {
		got := Redact(in)
		if got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
		for _, secret := range []string{"s3cret", "p%zz", "pa/ss", "pa#ss", "p@ss", "pa/ss word", "SECRET", "secret", "Zebra9", "Hunter2"} {
			if strings.Contains(in, secret) && strings.Contains(got, secret) {
				t.Errorf("Redact(%q) leaks %q", in, secret)
			}
		}
	}
}

func TestSchemeOf(t *testing.T) {
	cases := map[string]string{
		"billing.csv": "file", "/abs/x.parquet": "file", `C:\\data\\x.csv`: "file", "file:///x.csv": "file",
		"postgres://h/db": "postgres", "MySQL://h/db": "mysql", "snap:/store/x@latest": "snap",
	}
	for in, want := range cases {
		if got := SchemeOf(in); got != want {
			t.Errorf("SchemeOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRetryDefaultsAndDelays(t *testing.T) {
	r := Retry{}.WithDefaults()
	if r.Attempts != DefaultRetryAttempts || r.Backoff != DefaultRetryBackoff || r.MaxBackoff != DefaultRetryMaxBackoff {
		t.Errorf("defaults = %+v", r)
	}
	r = Retry{Backoff: 100 * time.Millisecond, MaxBackoff: 350 * time.Millisecond}.WithDefaults()
	var got []time.Duration
	for n := 1; n <= 4; n++ {
		got = append(got, r.Delay(n))
	}
	if want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 350 * time.Millisecond, 350 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("delays = %v, want %v", got, want)
	}
	if r := (Retry{Backoff: time.Second, MaxBackoff: time.Millisecond}).WithDefaults(); r.MaxBackoff != time.Second {
		t.Errorf("a cap below the first wait is raised to it: %+v", r)
	}
}
