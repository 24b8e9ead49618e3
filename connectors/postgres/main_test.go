package postgres

import (
	"os"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/reconhq/reconcile/internal/arrowpool"
)

// TestMain runs every test of the package with scans whose batch pools
// poison the buffers released to them: a batch, key or value read after
// the engine or the reader released its record reads 0xA5 bytes, and the
// test that read it fails, rather than passing on memory Go's allocator
// would have kept intact.
func TestMain(m *testing.M) {
	newBatchPool = func() memory.Allocator { return arrowpool.Poisoned(batchPoolLimit) }
	os.Exit(m.Run())
}
