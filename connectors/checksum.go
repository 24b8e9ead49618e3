package connectors

import (
	"context"
	"crypto/md5"
	"encoding/binary"
)

// KeyRange is a half-open interval of keys, [From, To), in the engine's
// canonical key order (see OrderedReader). A nil bound is open: nil From
// starts at the first key, nil To runs to the last, and rows with a NULL in
// the key lie in no range.
//
// A bound holds one value per key column, of the Go type a Checksummer's
// Boundaries returns for that column: int64 for integer columns, string
// for text and uuid columns, []byte for binary columns and time.Time (UTC)
// for timestamp and date columns.
type KeyRange struct {
	From, To []any
}

// Segment is what a Checksummer computes for one key range: the number of
// rows, the number of distinct keys among them (fewer than Rows when a key
// repeats) and the sum mod 2^64 of their row hashes (RowHash).
type Segment struct {
	Rows int64
	Keys int64
	Sum  uint64
}

// Checksummer is an optional capability of a database source: it computes
// segment checksums in the database, so that only the rows of segments
// that differ need to travel. A Checksummer's ReadOrdered honours
// ReadOptions.Ranges.
//
// Two row hashes exist. The canonical hash (ChecksumRequest.Hash empty) is
// the same on every engine: RowHash of the concatenation of the row's
// cells' canonical encodings (the reconcile package's encoding: type tag,
// big-endian fixed-width numbers, length-prefixed text, UTC microseconds),
// in the order of the columns asked for; a column the database cannot
// encode canonically is refused by Checksummable. A native hash
// (NativeHash) is whatever the database computes fastest over its own
// rendering of the row; it is comparable only with a source that reports
// the very same label, and it may tell two equal rows apart (that costs a
// read, never a missed difference) but must tell different rows apart as
// well as a 64-bit hash can.
type Checksummer interface {
	// Checksummable reports which of the given columns the canonical hash
	// cannot cover (nil when all can), and an error when a key column has
	// a type ranges cannot bound.
	Checksummable(ctx context.Context, ref TableRef, key, columns []string) (refused []string, err error)
	// NativeHash labels the source's native row hash ("" if it has none),
	// e.g. "postgres 13 hashtextextended(row text)".
	NativeHash() string
	// Boundaries returns at most n-1 ascending keys strictly inside r that
	// split it into ranges of about equal row counts (fewer when r holds
	// fewer distinct keys, none when n < 2). Each bound is a fresh slice:
	// the engine tells adjacent ranges by the identity of their shared bound.
	Boundaries(ctx context.Context, ref TableRef, key []string, r KeyRange, n int) ([][]any, error)
	// Checksums computes one Segment per range of the request, in one
	// statement. It must refuse bounds that are not ascending and strictly
	// inside the range (a wrong bucket would hide rows), and must neither
	// change nor keep the bounds: both sides get the same ones, at once.
	// Its counts and a ranged ReadOrdered must see the same rows (one
	// snapshot, a deterministic filter); the engine checks the totals.
	Checksums(ctx context.Context, ref TableRef, req ChecksumRequest) ([]Segment, error)
}

// ChecksumRequest asks for the segments of Range cut at Bounds: with
// bounds b1 < … < bk inside Range, the ranges are [Range.From, b1),
// [b1, b2), …, [bk, Range.To).
type ChecksumRequest struct {
	Key     []string
	Columns []string // hashed in this order
	Range   KeyRange
	Bounds  [][]any
	// Hash is "" for the canonical hash, or the NativeHash label.
	Hash string
}

// RowHash is the hash of one row's canonical encoding: the first 8 bytes
// of its MD5 digest, big-endian. MD5 because every SQL engine has it; the
// segment checksum that sums these hashes is there to find differences,
// not to resist an adversary.
func RowHash(row []byte) uint64 {
	d := md5.Sum(row)
	return binary.BigEndian.Uint64(d[:8])
}

// Meter is an optional capability: a source that counts the bytes it has
// received from its server so far (TLS and protocol overhead included), so
// that a report can say what a plan cost in transfer.
type Meter interface {
	BytesReceived() int64
}
