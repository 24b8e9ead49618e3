package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"golang.org/x/sync/errgroup"

	"github.com/reconhq/reconcile/connectors"
)

// The bisect algorithm: the databases checksum key-range segments (a row
// count, a distinct-key count and a sum mod 2^64 of MD5 row hashes over the
// canonical encoding, connectors.Checksummer), both sides at once. A
// segment whose figures agree on both sides is matched without reading a
// row. A segment that differs is split again when it holds more than
// BisectThreshold rows, and otherwise read from both sides and diffed by
// the ordered merge, so the report lists the same field-level changes as a
// full stream.
//
// The first level cuts the key space into about estimated rows /
// BisectThreshold segments (Boundaries: an arithmetic split of an integer
// key, otherwise evenly by row). The estimate may be stale or unknown, so a
// differing segment found larger than the threshold is split again,
// BisectFactor ways, until its segments reach the threshold.
//
// Concurrency: differing segments are independent key ranges, so their
// boundary and checksum statements run concurrently, at most
// Options.Workers tasks at once (an errgroup with SetLimit), each task
// issuing one statement per side at a time: at most Workers statements
// run on each side. A task that finds no free slot handles the segment
// itself, so a task never waits for a slot. Leaves are collected with
// their position in the segment tree and put in key order at the end.
//
// Load: with Options.MaxQuerySeconds, the first level, which covers the
// whole table, is checksummed in chunks of consecutive segments rather
// than in one statement per side, each chunk sized so that its statement
// takes about that long (see chunker). Deeper levels cover one differing
// segment each, BisectFactor segments of about BisectThreshold rows.

// Bisect defaults.
const (
	DefaultBisectThreshold = 256
	DefaultBisectFactor    = 16
	// maxFirstSegments bounds the first level, whatever the row estimate.
	maxFirstSegments = 1 << 16
	// maxBisectDepth stops splitting a segment whose keys will not spread
	// (it is read instead).
	maxBisectDepth = 12
)

// Segment checksums collide (miss a difference) only if two different sets
// of rows give the same count and the same sum of 64-bit hashes: about
// 2^-64 per differing segment for independent hashes.

type bisector struct {
	src, tgt     Input
	sc, tc       connectors.Checksummer
	skey, tkey   []string
	scols, tcols []string
	sread, tread []string // the read projections: the compared columns, then those only read (Context)
	threshold    int64
	factor       int
	hash         string        // connectors.ChecksumRequest.Hash: "" canonical, else the shared native label
	adaptive     bool          // auto: read dense levels instead of splitting them
	workers      int           // tasks at once, each one statement per side at a time
	maxQuery     time.Duration // target time of a first-level statement; 0: one statement per side
	chunks       *chunker      // the first level's chunks, while they are handed out

	queries        atomic.Int64
	srcDB, tgtDB   atomic.Int64 // nanoseconds spent in each database, summed over concurrent statements
	receivedBefore int64        // the sources' byte counts when the bisect began

	mu sync.Mutex // guards the statistics and found below while segments are handled
	// statistics
	srcRows, tgtRows int64
	srcSum, tgtSum   uint64
	matched          int64
	checked          int64
	mismatched       int64
	found            []leaf // in the order tasks found them

	leaves           []connectors.KeyRange // in key order, adjacent ones joined (after the checksums)
	leafSrc, leafTgt int64                 // rows the leaves hold on each side, by the checksums
}

// leaf is a differing segment to read, with its position in the tree of
// segments: the indexes of the segments it lies in, level by level (the
// first level's index counts over all its chunks). Positions order the
// leaves by key.
type leaf struct {
	pos              []int32
	r                connectors.KeyRange
	srcRows, tgtRows int64
}

// newBisector checks that the pair can be bisected and sets up the plan.
func newBisector(ctx context.Context, src, tgt Input, p *plan, opts *Options, srcInfo, tgtInfo *connectors.TableInfo) (*bisector, error) {
	sc, sOK := src.Source.(connectors.Checksummer)
	tc, tOK := tgt.Source.(connectors.Checksummer)
	var missing []string
	if !sOK {
		missing = append(missing, "source")
	}
	if !tOK {
		missing = append(missing, "target")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("diff: the bisect algorithm needs checksums computed in the database, which the %s cannot do (use --algorithm stream): %w", strings.Join(missing, " and "), connectors.ErrUnsupported)
	}
	_, sOrd := src.Source.(connectors.OrderedReader)
	_, tOrd := tgt.Source.(connectors.OrderedReader)
	if !sOrd || !tOrd {
		return nil, fmt.Errorf("diff: the bisect algorithm needs both sides to read in key order: %w", connectors.ErrUnsupported)
	}
	if why := p.pushDownBlocker(); why != "" {
		return nil, fmt.Errorf(bisectRefusal+"%w", unsupported(why))
	}
	b := &bisector{src: src, tgt: tgt, sc: sc, tc: tc, threshold: opts.BisectThreshold, factor: opts.BisectFactor,
		workers: max(opts.Workers, 1), maxQuery: seconds(opts.MaxQuerySeconds)}
	if b.threshold <= 0 {
		b.threshold = DefaultBisectThreshold
	}
	if b.factor < 2 {
		b.factor = DefaultBisectFactor
	}
	for _, k := range p.keyPairs {
		b.skey = append(b.skey, p.pairs[k].src)
		b.tkey = append(b.tkey, p.pairs[k].tgt)
	}
	// Columns in the order the engine folds them into a row digest.
	for _, c := range p.pairs {
		b.scols = append(b.scols, c.src)
		b.tcols = append(b.tcols, c.tgt)
	}
	b.sread, b.tread = p.srcColumns, p.tgtColumns
	b.receivedBefore = received(src, tgt)
	if h := sc.NativeHash(); h != "" && h == tc.NativeHash() && sameDBTypes(p, srcInfo, tgtInfo) {
		b.hash = h
	}
	if err := checkBisect(ctx, b, p, srcInfo, tgtInfo); err != nil {
		return nil, err
	}
	return b, nil
}

const bisectRefusal = "diff: cannot bisect (use --algorithm stream): "

// unsupported is a reason something cannot be done that is
// connectors.ErrUnsupported without saying so in its text.
type unsupported string

func (u unsupported) Error() string { return string(u) }
func (u unsupported) Unwrap() error { return connectors.ErrUnsupported }

// checkBisect reports why the pair cannot be bisected, all reasons at once.
func checkBisect(ctx context.Context, b *bisector, p *plan, srcInfo, tgtInfo *connectors.TableInfo) error {
	var errs []error
	for _, k := range p.keyPairs {
		c := p.pairs[k]
		if f, ok := field(srcInfo, c.src); ok && f.Nullable {
			errs = append(errs, fmt.Errorf("key column %s of the source may be NULL", c.src))
		}
		if f, ok := field(tgtInfo, c.tgt); ok && f.Nullable {
			errs = append(errs, fmt.Errorf("key column %s of the target may be NULL", c.tgt))
		}
	}
	for _, c := range p.pairs {
		if b.hash != "" {
			break // one engine, one rendering: its own types decide
		}
		if c.srcEnc.own != c.srcEnc.as || c.tgtEnc.own != c.tgtEnc.as || c.srcEnc.own != c.tgtEnc.own {
			errs = append(errs, fmt.Errorf("column %s is %s on the source and %s on the target; segment checksums need one type on both sides", c.src, c.srcEnc.own, c.tgtEnc.own))
		}
	}
	check := func(name string, cs connectors.Checksummer, ref connectors.TableRef, key, cols []string) {
		refused, err := cs.Checksummable(ctx, ref, key, cols)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return
		}
		// The native hash covers every column; only the canonical one
		// (two different engines) refuses some.
		if len(refused) > 0 && b.hash == "" {
			errs = append(errs, fmt.Errorf("the %s database cannot checksum column(s) %s the same way as the %s", name, strings.Join(refused, ", "), other(name)))
		}
	}
	check("source", b.sc, b.src.Table, b.skey, b.scols)
	check("target", b.tc, b.tgt.Table, b.tkey, b.tcols)
	if len(errs) > 0 {
		return fmt.Errorf(bisectRefusal+"%w", errors.Join(errs...))
	}
	return nil
}

// sameDBTypes reports whether every compared column has the same database
// type on both sides (connectors.MetaDBType), the condition for a native
// row hash: a char(3) 'ab' and a text 'ab ' render alike but differ.
func sameDBTypes(p *plan, srcInfo, tgtInfo *connectors.TableInfo) bool {
	for _, c := range p.pairs {
		sf, ok1 := field(srcInfo, c.src)
		tf, ok2 := field(tgtInfo, c.tgt)
		if !ok1 || !ok2 {
			return false
		}
		st, tt := dbType(sf), dbType(tf)
		if st == "" || st != tt {
			return false
		}
	}
	return true
}

func dbType(f arrow.Field) string {
	if i := f.Metadata.FindKey(connectors.MetaDBType); i >= 0 {
		return f.Metadata.Values()[i]
	}
	return ""
}

func other(side string) string {
	if side == "source" {
		return "target"
	}
	return "source"
}

func field(info *connectors.TableInfo, name string) (arrow.Field, bool) {
	i := info.Column(name)
	if i < 0 {
		return arrow.Field{}, false
	}
	return info.Schema.Field(i), true
}

// seconds converts Options.MaxQuerySeconds to a duration: 0 (no target)
// for zero, negative and non-finite values, at most a day.
func seconds(s float64) time.Duration {
	if !(s > 0) || math.IsInf(s, 1) {
		return 0
	}
	return time.Duration(min(s, 24*3600) * float64(time.Second))
}

// timed runs f against one side's database, counting the query and its
// time, and returns that time.
func (b *bisector) timed(side Side, f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	took := time.Since(start)
	b.queries.Add(1)
	if side == SourceSide {
		b.srcDB.Add(int64(took))
	} else {
		b.tgtDB.Add(int64(took))
	}
	return took, err
}

// sideChecksums computes one side's segments of r cut at bounds.
func (b *bisector) sideChecksums(ctx context.Context, side Side, r connectors.KeyRange, bounds [][]any) (segs []connectors.Segment, took time.Duration, err error) {
	cs, ref, req := b.sc, b.src.Table, connectors.ChecksumRequest{Key: b.skey, Columns: b.scols, Range: r, Bounds: bounds, Hash: b.hash}
	if side == TargetSide {
		cs, ref, req.Key, req.Columns = b.tc, b.tgt.Table, b.tkey, b.tcols
	}
	took, err = b.timed(side, func() (err error) {
		segs, err = cs.Checksums(ctx, ref, req)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("checksum %s: %w", side, err)
	}
	return segs, took, nil
}

// sides holds one figure per side: source, target.
type sides[T any] [2]T

// slower is the longer of two sides' times: the pace of a step that runs
// on both at once.
func slower(t sides[time.Duration]) time.Duration { return max(t[0], t[1]) }

// checksums computes both sides' segments of r cut at bounds, at once,
// and the time each side's statement took. The first to fail cancels the
// other.
func (b *bisector) checksums(ctx context.Context, r connectors.KeyRange, bounds [][]any) (src, tgt []connectors.Segment, took sides[time.Duration], err error) {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { src, took[0], err = b.sideChecksums(gctx, SourceSide, r, bounds); return err })
	g.Go(func() (err error) { tgt, took[1], err = b.sideChecksums(gctx, TargetSide, r, bounds); return err })
	if err := g.Wait(); err != nil {
		return nil, nil, took, err
	}
	if len(src) != len(bounds)+1 || len(tgt) != len(bounds)+1 {
		return nil, nil, took, fmt.Errorf("checksum: %d boundaries gave %d source and %d target segments, want %d", len(bounds), len(src), len(tgt), len(bounds)+1)
	}
	return src, tgt, took, nil
}

// boundaries cuts r into about n segments from the keys of the side with
// more rows there.
func (b *bisector) boundaries(ctx context.Context, r connectors.KeyRange, n int, side Side) (bounds [][]any, err error) {
	_, err = b.timed(side, func() error {
		if side == SourceSide {
			bounds, err = b.sc.Boundaries(ctx, b.src.Table, b.skey, r, n)
		} else {
			bounds, err = b.tc.Boundaries(ctx, b.tgt.Table, b.tkey, r, n)
		}
		if err != nil {
			return fmt.Errorf("segment %s: %w", side, err)
		}
		return nil
	})
	return bounds, err
}

// segments runs the checksums of the first level, cut at bounds, and of
// every differing segment below it, under one errgroup of b.workers
// tasks, and then puts the leaves in key order.
func (b *bisector) segments(ctx context.Context, bounds [][]any) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.workers)
	nseg := len(bounds) + 1
	if b.maxQuery <= 0 || nseg == 1 {
		g.Go(func() error { return b.chunk(gctx, g, bounds, 0, nseg) })
	} else {
		b.chunks = &chunker{target: b.maxQuery, nseg: nseg, size: 1}
		// Each task takes the next chunk until none is left; the
		// differing segments of its chunks go to free slots, or are
		// handled by the task itself when there is none.
		for range min(b.workers, nseg) {
			g.Go(func() error {
				for {
					lo, hi, ok := b.chunks.take()
					if !ok {
						return nil
					}
					if err := b.chunk(gctx, g, bounds, lo, hi); err != nil {
						return err
					}
				}
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	b.sortLeaves()
	return nil
}

// chunk checksums the first level's segments lo..hi-1 (of those cut at
// bounds) in one statement per side and handles each.
func (b *bisector) chunk(ctx context.Context, g *errgroup.Group, bounds [][]any, lo, hi int) error {
	var r connectors.KeyRange
	if lo > 0 {
		r.From = bounds[lo-1]
	}
	if hi <= len(bounds) {
		r.To = bounds[hi-1]
	}
	inner := bounds[lo : hi-1 : hi-1]
	ss, ts, took, err := b.checksums(ctx, r, inner)
	if err != nil {
		return err
	}
	if b.chunks != nil {
		b.chunks.observe(hi-lo, took)
	}
	return b.handle(ctx, g, r, inner, ss, ts, 0, nil, lo)
}

// split checksums the n segments of r, which lies at pos in the tree of
// segments, and handles each: matched, read (a leaf) or split again.
func (b *bisector) split(ctx context.Context, g *errgroup.Group, r connectors.KeyRange, n int, side Side, srcRows, tgtRows int64, depth int, pos []int32) error {
	bounds, err := b.boundaries(ctx, r, n, side)
	if err != nil {
		return err
	}
	if len(bounds) == 0 {
		// One key, repeated: there is nothing to split, so it is read.
		b.mu.Lock()
		b.found = append(b.found, leaf{pos: pos, r: r, srcRows: srcRows, tgtRows: tgtRows})
		b.mu.Unlock()
		return nil
	}
	ss, ts, _, err := b.checksums(ctx, r, bounds)
	if err != nil {
		return err
	}
	return b.handle(ctx, g, r, bounds, ss, ts, depth, pos, 0)
}

// differ reports whether a segment's figures show a difference.
func differ(s, t connectors.Segment) bool { return s != t || s.Keys != s.Rows }

// handle takes the checksums ss and ts of the segments of r cut at
// bounds, at depth, below the segment at pos (nil for the first level,
// whose segments' indexes start at first): it counts them, records the
// leaves and splits the other differing segments, each in a task of g
// when a slot is free and here otherwise.
func (b *bisector) handle(ctx context.Context, g *errgroup.Group, r connectors.KeyRange, bounds [][]any, ss, ts []connectors.Segment, depth int, pos []int32, first int) error {
	// Adaptive: when most segments of this level differ, splitting them
	// further would checksum most of their rows again; they are read.
	dense := false
	if b.adaptive {
		d := 0
		for i := range ss {
			if differ(ss[i], ts[i]) {
				d++
			}
		}
		dense = 2*d > len(ss)
	}
	type task struct {
		seg              connectors.KeyRange
		pos              []int32
		side             Side
		srcRows, tgtRows int64
	}
	var splits []task
	b.mu.Lock()
	for i := range ss {
		seg := connectors.KeyRange{From: r.From, To: r.To}
		if i > 0 {
			seg.From = bounds[i-1]
		}
		if i < len(bounds) {
			seg.To = bounds[i]
		}
		s, t := ss[i], ts[i]
		if depth == 0 {
			b.srcRows += s.Rows
			b.tgtRows += t.Rows
			b.srcSum += s.Sum
			b.tgtSum += t.Sum
		}
		b.checked++
		if !differ(s, t) {
			b.matched += s.Rows
			continue
		}
		b.mismatched++
		at := append(slices.Clip(pos), int32(first+i))
		rows := max(s.Rows, t.Rows)
		near := rows <= int64(b.factor)*b.threshold // one more split would reach the threshold
		if rows <= b.threshold || dense && near || depth >= maxBisectDepth || (s.Rows <= 1 && t.Rows <= 1) {
			b.found = append(b.found, leaf{pos: at, r: seg, srcRows: s.Rows, tgtRows: t.Rows})
			continue
		}
		more := SourceSide
		if t.Rows > s.Rows {
			more = TargetSide
		}
		splits = append(splits, task{seg, at, more, s.Rows, t.Rows})
	}
	b.mu.Unlock()
	for _, k := range splits {
		work := func() error { return b.split(ctx, g, k.seg, b.factor, k.side, k.srcRows, k.tgtRows, depth+1, k.pos) }
		if g.TryGo(work) {
			continue
		}
		if err := work(); err != nil {
			return err
		}
	}
	return nil
}

// sortLeaves puts the leaves found in key order, joining each to the
// previous one when they touch (the previous one ends at the very bound
// this one starts at).
func (b *bisector) sortLeaves() {
	slices.SortFunc(b.found, func(x, y leaf) int { return slices.Compare(x.pos, y.pos) })
	for _, l := range b.found {
		b.leafSrc += l.srcRows
		b.leafTgt += l.tgtRows
		if n := len(b.leaves); n > 0 {
			last := &b.leaves[n-1]
			if sameBound(last.To, l.r.From) {
				last.To = l.r.To
				continue
			}
		}
		b.leaves = append(b.leaves, l.r)
	}
	b.found = nil
}

// chunker sizes the first level's statements to a target time, as
// pt-table-checksum's --chunk-time does. The first chunks are of one
// segment (about BisectThreshold rows by the estimate: a stale estimate
// makes no chunk large before one was measured). Each statement that
// completes gives, per side, its time per segment (its rows per second
// over its rows per segment, which holds as well where a filter leaves
// few of the rows it scans), averaged with the earlier ones; the slower
// side's figure sizes the next chunks to the target, at most twice the
// largest chunk measured.
type chunker struct {
	target time.Duration
	nseg   int

	mu      sync.Mutex
	next    int            // the first segment not handed out
	size    int            // segments of the next chunk
	largest int            // segments of the largest chunk measured
	perSeg  sides[float64] // seconds a segment takes on each side, 0 before the first measurement
}

// take hands out the next chunk, segments lo..hi-1.
func (c *chunker) take() (lo, hi int, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next >= c.nseg {
		return 0, 0, false
	}
	lo = c.next
	hi = min(c.nseg, lo+c.size)
	c.next = hi
	return lo, hi, true
}

// observe records that a chunk of segs segments took the given times and
// sizes the next chunks.
func (c *chunker) observe(segs int, took sides[time.Duration]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.largest = max(c.largest, segs)
	slowest := 0.0
	for i, d := range took {
		per := d.Seconds() / float64(segs)
		if c.perSeg[i] > 0 {
			per = (c.perSeg[i] + per) / 2
		}
		c.perSeg[i] = per
		slowest = max(slowest, per)
	}
	n := 2 * c.largest
	if slowest > 0 {
		n = min(n, int(c.target.Seconds()/slowest))
	}
	c.size = max(n, 1)
}

// autoSamples is how many first-level segments auto checksums before it
// decides between bisecting and streaming.
const autoSamples = 16

// sample checksums up to autoSamples first-level segments, spread over the
// key space, and reports whether a quarter or more of them differ: then
// the table is better streamed than bisected (a full checksum scan costs
// about as much as streaming two thirds of the table on one machine, and
// reading the differing segments adds their share of a stream).
//
// The samples run one at a time (each on both sides at once), on the
// connection each side already has: they are small statements, and
// running them b.workers at a time opened a connection per worker that a
// stream never uses. On this project's machine that cost 80 ms of a 1.5 s
// 1M-row diff (1.519 s against 1.433 s with one at a time, 9 runs); a far
// server pays one round trip per sample instead, once per table.
func (b *bisector) sample(ctx context.Context, bounds [][]any) (dense bool, sampled, differing int, err error) {
	nseg := len(bounds) + 1
	if nseg < 2*autoSamples {
		return false, 0, 0, nil // the first level is hardly more work than a sample
	}
	for k := range autoSamples {
		i := (2*k + 1) * nseg / (2 * autoSamples)
		seg := connectors.KeyRange{}
		if i > 0 {
			seg.From = bounds[i-1]
		}
		if i < len(bounds) {
			seg.To = bounds[i]
		}
		ss, ts, _, err := b.checksums(ctx, seg, nil)
		if err != nil {
			return false, 0, 0, err
		}
		sampled++
		if differ(ss[0], ts[0]) {
			differing++
		}
	}
	return 4*differing >= sampled, sampled, differing, nil
}

// probeCosts turns on auto's cost check of checksumming against reading; the
// package's tests of auto over in-memory sources, whose timings mean
// nothing, turn it off.
var probeCosts = true

// streamCheaper decides, from what checksumming and reading the same
// window of rows took on each side, whether reading the whole table costs
// less than checksumming it and reading the differing fraction f of it:
// the slower side sets the pace of each.
func streamCheaper(check, read sides[time.Duration], f float64) bool {
	return float64(slower(check)) >= (1-f)*float64(slower(read))
}

// costWindow is how many adjacent first-level segments the cost probe
// checksums and reads first, at most (and at most half the table). Such a
// narrow window settles only a clear case for streaming (clearlyStream):
// each statement's fixed cost weighs more on the read than on the
// checksum, so a wider window would only make streaming look cheaper
// still. Any other verdict is probed again on wideCostWindow segments
// (32,768 rows at the default threshold), so that neither the fixed costs
// nor the machine's noise decide it: at 32 segments the verdict on one
// pair of PostgreSQL tables with the record hash flipped from run to run
// (a checksum of 10 ms against a read of 27 ms in one run, 19 ms against
// 16 ms in another), at 128 it did not (6 runs). MD5 built in SQL against
// a read (MariaDB here) is often settled narrow, sparing the wide probe's
// 60 to 90 ms.
const (
	costWindow     = 32
	wideCostWindow = 128
)

// clearlyStream reports whether a probe's checksum took at least twice
// as long as its read on the slower side of each.
func clearlyStream(check, read sides[time.Duration]) bool {
	return slower(check) >= 2*slower(read)
}

// probeCosts times, on both sides at once, one checksum statement and one
// read of the same window of (at most size) adjacent first-level
// segments in the middle of the key space: one round trip each, over the
// same rows, so the two compare directly. segs is the window's size in
// segments.
func (b *bisector) probeCosts(ctx context.Context, bounds [][]any, so, to connectors.OrderedReader, ropts connectors.ReadOptions, size int) (check, read sides[time.Duration], segs int, err error) {
	if len(bounds)+1 < 2*autoSamples {
		// auto samples (and probes) only a first level of as many segments.
		return check, read, 0, fmt.Errorf("cost probe: %d segments are too few", len(bounds)+1)
	}
	w := min(size, (len(bounds)+1)/2)
	i := (len(bounds)+1)/2 - w/2
	window := connectors.KeyRange{From: bounds[i-1], To: bounds[i+w-1]}
	inner := bounds[i : i+w-1]
	{
		_, _, took, err := b.checksums(ctx, window, inner)
		if err != nil {
			return check, read, w, err
		}
		var rd sides[time.Duration]
		g, gctx := errgroup.WithContext(ctx)
		for k, side := range []Side{SourceSide, TargetSide} {
			ord, in, key, cols := so, b.src, b.skey, b.sread
			if side == TargetSide {
				ord, in, key, cols = to, b.tgt, b.tkey, b.tread
			}
			g.Go(func() (err error) {
				o := ropts
				o.Columns, o.Ranges = cols, []connectors.KeyRange{window}
				rd[k], err = b.timed(side, func() error {
					rr, err := ord.ReadOrdered(gctx, in.Table, key, o)
					if err != nil {
						return fmt.Errorf("read %s: %w", side, err)
					}
					defer rr.Release()
					for rr.Next() {
					}
					return rr.Err()
				})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return check, read, w, err
		}
		check, read = took, rd
	}
	return check, read, w, nil
}

// sameBound reports whether two bounds are the same bound value handed out
// by one Boundaries call (identity, not equality: adjacent segments share
// the slice).
func sameBound(a, b []any) bool {
	return len(a) > 0 && len(b) > 0 && &a[0] == &b[0]
}

// rangesReader reads a side's leaves in groups of ranges, one ordered
// read per group, one group after another.
type rangesReader struct {
	refs   atomic.Int64
	ctx    context.Context
	open   func(ctx context.Context, rs []connectors.KeyRange) (array.RecordReader, error)
	groups [][]connectors.KeyRange
	next   int
	cur    array.RecordReader
	rec    arrow.Record
	err    error
}

// rangesPerRead bounds the ranges one read asks for, and so the size of
// its statement (a variable for tests).
var rangesPerRead = 256

func newRangesReader(ctx context.Context, ranges []connectors.KeyRange, open func(context.Context, []connectors.KeyRange) (array.RecordReader, error)) *rangesReader {
	r := &rangesReader{ctx: ctx, open: open}
	for len(ranges) > 0 {
		n := min(len(ranges), rangesPerRead)
		r.groups = append(r.groups, ranges[:n:n])
		ranges = ranges[n:]
	}
	r.refs.Store(1)
	return r
}

func (r *rangesReader) Retain() { r.refs.Add(1) }

func (r *rangesReader) Release() {
	if r.refs.Add(-1) == 0 && r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
}

// Schema is that of the current read (nil before the first).
func (r *rangesReader) Schema() *arrow.Schema {
	if r.cur == nil {
		return nil
	}
	return r.cur.Schema()
}

func (r *rangesReader) Record() arrow.Record { return r.rec }
func (r *rangesReader) Err() error           { return r.err }

func (r *rangesReader) Next() bool {
	r.rec = nil
	for r.err == nil {
		if r.cur == nil {
			if r.next >= len(r.groups) {
				return false
			}
			r.cur, r.err = r.open(r.ctx, r.groups[r.next])
			r.next++
			if r.err != nil {
				return false
			}
		}
		if r.cur.Next() {
			r.rec = r.cur.Record()
			return true
		}
		r.err = r.cur.Err()
		r.cur.Release()
		r.cur = nil
	}
	return false
}

// checksumError is a failure of the checksum phase, before any row was read
// or any change listed: auto can still stream the table instead.
type checksumError struct{ err error }

func (e *checksumError) Error() string { return e.err.Error() }
func (e *checksumError) Unwrap() error { return e.err }

// bisectDiff runs the bisect algorithm. With b.adaptive (auto), it first
// checksums a sample of the first level's segments and, when most of them
// differ, returns streamed = true without reading anything: the caller
// then streams the whole table.
func bisectDiff(ctx context.Context, b *bisector, ss, ts *sideState, so, to connectors.OrderedReader, opts *Options, em *emitter, srcInfo, tgtInfo *connectors.TableInfo) (streamed bool, err error) {
	est := max(srcInfo.EstimatedRows, tgtInfo.EstimatedRows, 1)
	n := int(min((est+b.threshold-1)/b.threshold, maxFirstSegments))
	first := SourceSide
	if srcInfo.EstimatedRows == 0 && tgtInfo.EstimatedRows > 0 {
		first = TargetSide
	}
	bounds, err := b.boundaries(ctx, connectors.KeyRange{}, max(n, 1), first)
	if err != nil {
		return false, &checksumError{err}
	}
	ropts := connectors.ReadOptions{Allocator: opts.Allocator, BatchRows: opts.BatchRows}
	if b.adaptive {
		dense, sampled, differing, err := b.sample(ctx, bounds)
		if err != nil {
			return false, &checksumError{err}
		}
		if dense {
			em.res.Plan.Note = joinNote(em.res.Plan.Note, fmt.Sprintf("%d of %d sampled segments differ, so the table was streamed", differing, sampled))
			return true, nil
		}
		// A checksum saves sending rows, which costs little where the
		// server is near (on the same host, streaming is the faster plan
		// even with a server's own record hash) and much across a slow
		// network; the canonical hash, built in SQL, costs the server
		// several times its work of sending a row. Time both on a window
		// of the table.
		if sampled > 0 && probeCosts {
			check, read, w, err := b.probeCosts(ctx, bounds, so, to, ropts, costWindow)
			if err == nil && !clearlyStream(check, read) {
				check, read, w, err = b.probeCosts(ctx, bounds, so, to, ropts, wideCostWindow)
			}
			if err != nil {
				return false, &checksumError{err}
			}
			c, r := slower(check), slower(read)
			if streamCheaper(check, read, float64(differing)/float64(sampled)) {
				em.res.Plan.Note = joinNote(em.res.Plan.Note, fmt.Sprintf("checksumming %d segments in SQL took %s against %s to read them, so the table was streamed",
					w, c.Round(10*time.Microsecond), r.Round(10*time.Microsecond)))
				return true, nil
			}
			em.res.Plan.Note = joinNote(em.res.Plan.Note, fmt.Sprintf("checksumming %d segments in SQL took %s against %s to read them, so the table was bisected",
				w, c.Round(10*time.Microsecond), r.Round(10*time.Microsecond)))
		}
	}
	if err := b.segments(ctx, bounds); err != nil {
		return false, &checksumError{err}
	}
	em.res.Summary.Matched += b.matched
	if len(b.leaves) == 0 {
		return false, nil
	}
	reader := func(side Side, ord connectors.OrderedReader, in Input, key, cols []string) func(context.Context, []connectors.KeyRange) (array.RecordReader, error) {
		return func(ctx context.Context, rs []connectors.KeyRange) (array.RecordReader, error) {
			o := ropts
			o.Columns = cols
			o.Ranges = rs
			b.queries.Add(1)
			rr, err := ord.ReadOrdered(ctx, in.Table, key, o)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", side, err)
			}
			return rr, nil
		}
	}
	sr := newRangesReader(ctx, b.leaves, reader(SourceSide, so, b.src, b.skey, b.sread))
	defer sr.Release()
	tr := newRangesReader(ctx, b.leaves, reader(TargetSide, to, b.tgt, b.tkey, b.tread))
	defer tr.Release()
	before := em.res.Summary.Differences()
	if err := mergeDiff(ctx, ss, ts, sr, tr, em, true); err != nil {
		return false, err
	}
	// The reads must return the rows the checksums counted: a source whose
	// checksums and reads see different rows (say a --where on the clock)
	// would otherwise turn a differing segment into a clean verdict.
	if ss.rows != b.leafSrc || ts.rows != b.leafTgt {
		return false, fmt.Errorf("diff: the differing segments held %d source and %d target rows by their checksums, but reading them returned %d and %d; the data or the filter changed between the statements (use --algorithm stream): %w",
			b.leafSrc, b.leafTgt, ss.rows, ts.rows, connectors.ErrBadInput)
	}
	// The canonical hash hashes what the engine compares: a segment that
	// differs by it must show a difference when read.
	if b.hash == "" && em.res.Summary.Differences() == before {
		return false, fmt.Errorf("diff: %d segments differed by their checksums, but reading them showed no difference; the databases' canonical encoding disagrees with the engine's (use --algorithm stream): %w", b.mismatched, connectors.ErrBadInput)
	}
	return false, nil
}

// received is what the sources that count it (connectors.Meter) have
// received from their servers so far.
func received(src, tgt Input) int64 {
	var n int64
	if m, ok := src.Source.(connectors.Meter); ok {
		n += m.BytesReceived()
	}
	if m, ok := tgt.Source.(connectors.Meter); ok && tgt.Source != src.Source {
		n += m.BytesReceived()
	}
	return n
}

// finish records the bisect statistics in res, after the sides' own.
func (b *bisector) finish(res *Result) {
	fetchedSrc, fetchedTgt := res.Source.Rows, res.Target.Rows
	res.Plan.Segments = b.checked
	res.Plan.SegmentsMismatched = b.mismatched
	res.Plan.RowsFetched = fetchedSrc + fetchedTgt
	res.Plan.Queries = b.queries.Load()
	res.Plan.BytesReceived = received(b.src, b.tgt) - b.receivedBefore
	res.Plan.SourceDBTime = time.Duration(b.srcDB.Load())
	res.Plan.TargetDBTime = time.Duration(b.tgtDB.Load())
	// The sides' totals come from the checksums: most rows were never read.
	res.Source.Rows, res.Target.Rows = b.srcRows, b.tgtRows
	res.Source.Checksum, res.Target.Checksum = b.srcSum, b.tgtSum
	res.Source.Columns, res.Target.Columns = nil, nil
	kind := "database sums of MD5 row hashes"
	if b.hash != "" {
		kind = "database sums of " + b.hash
	}
	res.Source.ChecksumKind, res.Target.ChecksumKind = kind, kind
}
