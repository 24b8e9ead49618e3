package reconcile

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// labelType is a minimal extension type over strings.
type labelType struct{ arrow.ExtensionBase }

type labelArray struct{ array.ExtensionArrayBase }

func (labelType) ArrayType() reflect.Type { return reflect.TypeOf(labelArray{}) }
func (labelType) ExtensionName() string   { return "test.label" }
func (labelType) Serialize() string       { return "" }
func (t labelType) ExtensionEquals(o arrow.ExtensionType) bool {
	return o.ExtensionName() == t.ExtensionName()
}
func (t *labelType) Deserialize(arrow.DataType, string) (arrow.ExtensionType, error) { return t, nil }

// An extension column encodes as its storage, however much the encoding
// has to grow the column buffer.
func TestEncodeExtensionColumn(t *testing.T) {
	mem := checkedAlloc(t)
	sb := array.NewStringBuilder(mem)
	defer sb.Release()
	var want []string
	for i := 0; i < 500; i++ {
		v := fmt.Sprintf("%d-%s", i, strings.Repeat("x", i%40))
		sb.Append(v)
		want = append(want, v)
	}
	storage := sb.NewArray()
	defer storage.Release()
	ext := array.NewExtensionArrayWithStorage(&labelType{ExtensionBase: arrow.ExtensionBase{Storage: arrow.BinaryTypes.String}}, storage)
	defer ext.Release()

	e := columnEncoder{name: "label", own: classText, as: classText}
	var out encCol
	if err := e.encode(ext, &out); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if got := Value(out.cell(i)); !got.Equal(AppendText(nil, w)) {
			t.Fatalf("row %d = %q, want %q", i, got, w)
		}
	}
}
