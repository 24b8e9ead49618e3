package file

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/connectors"
)

// fuzzRead reads data as a file of the given name: it must not panic or
// leak; errors are fine.
func fuzzRead(t *testing.T, name string, data []byte, opts connectors.Options) {
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := New(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Describe(context.Background(), connectors.TableRef{}); err != nil {
		return
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rr, err := src.Read(context.Background(), connectors.TableRef{}, connectors.ReadOptions{Allocator: mem, BatchRows: 3})
	if err != nil {
		return
	}
	defer rr.Release()
	for rr.Next() {
		rec := rr.Record()
		for _, col := range rec.Columns() {
			if col.Len() != int(rec.NumRows()) {
				t.Fatalf("column length %d, record %d rows", col.Len(), rec.NumRows())
			}
			for i := 0; i < col.Len(); i++ {
				_ = col.ValueStr(i)
			}
		}
	}
	// An inferred schema must read back without a type error.
	if err := rr.Err(); err != nil {
		if _, ok := err.(*ParseError); ok && opts.Types == nil {
			// Read may only fail where Describe would have: a value error
			// after a successful inference means the two disagree.
			t.Fatalf("Read failed after Describe succeeded: %v", err)
		}
	}
}

func FuzzCSV(f *testing.F) {
	for _, seed := range []string{
		"a,b\n1,2\n",
		"id,name,amount,at,d,ok\n1,\"x,\"\"y\"\"\",1.50,2024-01-02T03:04:05Z,2024-01-02,true\n2,,NaN,2024-01-02 03:04:05.123+01:00,2024-02-29,FALSE\r\n",
		"\xEF\xBB\xBFa\n\"multi\nline\"\n\n\n",
		"a,b\n1,x\"y\n",
		"a,b\n\"unterminated\n",
		"a\n00123\n1e5\n-Inf\n12345678901234567890\n",
		"a,a\n1,2\n",
		"x\n\xff\n",
	} {
		f.Add([]byte(seed), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, withNull bool) {
		opts := connectors.Options{}
		if withNull {
			opts.NullValue = strp("")
		}
		fuzzRead(t, "f.csv", data, opts)
	})
}

func FuzzJSONL(f *testing.F) {
	for _, seed := range []string{
		`{"a":1,"b":"x"}` + "\n" + `{"a":2.5,"c":[1,{"d":null}]}` + "\n",
		`{"a":"\u00e9\"","b":true}` + "\n\n" + `{"b":false,"a":null}`,
		`{"n":1e400}` + "\n" + `{"n":123456789012345678901234567890}` + "\n",
		"[1]\n",
		"{\"a\":\n",
		"{\"\\u0061\":1,\"a\":2}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, "f.jsonl", data, connectors.Options{})
	})
}
