package connectors

import (
	"strings"
	"testing"
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
