package batches

import (
	"context"

	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/connectors/memory"
	"github.com/reconhq/reconcile/internal/sqlquote"
	"github.com/reconhq/reconcile/reconcile"
)

// VerifyOptions shape Verify.
type VerifyOptions struct {
	// SourceDialect is the SQL dialect of the source ("postgres" or
	// "mysql"); empty means the target's.
	SourceDialect string
	// SourceTable is the source table; empty means Manifest.Source.Table.
	SourceTable string
	// Diff are the options of the diff of the touched rows (Key defaults
	// to the batch's key, by source names: Diff.Map renames them).
	Diff reconcile.Options
	// ChunkKeys is the number of keys read per statement; 0 means 1,000.
	ChunkKeys int
	// SourceWhere and TargetWhere are the sides' filters (the job's
	// where): a row a side's filter leaves out is not there to verify.
	SourceWhere, TargetWhere string
}

// Verify re-reads the rows the batch touched from the source and the
// target, each in chunks of keys (a WHERE key IN (...) of the source's
// dialect, its values written as quoted literals, on a read-only
// source), and diffs them with the engine: the Result counts what still
// differs among the touched rows. Rows outside the batch are not read.
func Verify(ctx context.Context, b *Batch, source, target connectors.Source, opts VerifyOptions) (*reconcile.Result, error) {
	id := b.Manifest.ID
	ops, err := b.Ops()
	if err != nil {
		return nil, fmt.Errorf("verify batch %s: %w", id, err)
	}
	var keys [][]Cell
	seen := map[string]bool{}
	for i := range ops {
		var k strings.Builder
		for _, c := range ops[i].Key {
			k.WriteString(c.Column)
			k.WriteByte(0)
			k.Write(c.Value)
		}
		if !seen[k.String()] {
			seen[k.String()] = true
			keys = append(keys, ops[i].Key)
		}
	}
	srcDialect := opts.SourceDialect
	if srcDialect == "" {
		srcDialect = b.Manifest.Dialect
	}
	srcTable := opts.SourceTable
	if srcTable == "" {
		srcTable = b.Manifest.Source.Table
	}
	toSource := map[string]string{}
	for s, t := range opts.Diff.Map {
		toSource[t] = s
	}
	dopts := opts.Diff
	if len(dopts.Key) == 0 {
		for _, k := range b.Manifest.Key {
			dopts.Key = append(dopts.Key, nameIn(toSource, k))
		}
	}
	chunk := opts.ChunkKeys
	if chunk <= 0 {
		chunk = 1000
	}
	srcMem, err := readKeys(ctx, source, srcDialect, srcTable, opts.SourceWhere, keys, toSource, chunk, dopts)
	if err != nil {
		return nil, fmt.Errorf("verify batch %s: source: %w", id, err)
	}
	defer srcMem.Close()
	tgtMem, err := readKeys(ctx, target, b.Manifest.Dialect, b.Manifest.Target.Table, opts.TargetWhere, keys, nil, chunk, dopts)
	if err != nil {
		return nil, fmt.Errorf("verify batch %s: target: %w", id, err)
	}
	defer tgtMem.Close()
	res, err := reconcile.Diff(ctx,
		reconcile.Input{Source: srcMem, Table: connectors.TableRef{Name: srcTable}, Name: srcTable},
		reconcile.Input{Source: tgtMem, Table: connectors.TableRef{Name: b.Manifest.Target.Table}, Name: b.Manifest.Target.Table},
		dopts, func(reconcile.Change) error { return nil })
	if err != nil {
		return nil, fmt.Errorf("verify batch %s: %w", id, err)
	}
	return res, nil
}

func nameIn(m map[string]string, n string) string {
	if x, ok := m[n]; ok {
		return x
	}
	return n
}

// readKeys reads the rows with the given keys into a memory source.
func readKeys(ctx context.Context, src connectors.Source, dialect, table, where string, keys [][]Cell, rename map[string]string, chunk int, dopts reconcile.Options) (*memory.Source, error) {
	d, ok := dialects[dialect]
	if !ok {
		return nil, fmt.Errorf("unknown dialect %q", dialect)
	}
	ref := connectors.TableRef{Name: table}
	info, err := src.Describe(ctx, ref)
	if err != nil {
		return nil, err
	}
	var recs []arrow.Record
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	schema := info.Schema
	for first := 0; first < len(keys) || first == 0; first += chunk {
		part := keys[first:min(first+chunk, len(keys))]
		if len(part) == 0 {
			ref.Where = "false"
			if dialect == "mysql" {
				ref.Where = "0 = 1"
			}
		} else {
			ref.Where = keyWhere(d, dialect, part, rename)
		}
		if where != "" {
			ref.Where = "(" + where + ") AND (" + ref.Where + ")"
		}
		rr, err := src.Read(ctx, ref, connectors.ReadOptions{Allocator: dopts.Allocator, BatchRows: dopts.BatchRows})
		if err != nil {
			return nil, err
		}
		for rr.Next() {
			rec := rr.Record()
			rec.Retain()
			recs = append(recs, rec)
			schema = rec.Schema()
		}
		err = rr.Err()
		rr.Release()
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			break
		}
	}
	m, err := memory.New(memory.Table{Name: info.Name, Schema: schema, Records: recs, PrimaryKey: info.PrimaryKey})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// keyWhere is (k1, k2) IN ((v1, v2), ...), or k IN (v, ...), with the
// values as quoted literals.
func keyWhere(d sqlquote.Dialect, dialect string, keys [][]Cell, rename map[string]string) string {
	var b strings.Builder
	cols := keys[0]
	multi := len(cols) > 1
	if multi {
		b.WriteByte('(')
	}
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.Ident(nameIn(rename, c.Column)))
	}
	if multi {
		b.WriteByte(')')
	}
	b.WriteString(" IN (")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		if multi {
			b.WriteByte('(')
		}
		for j, c := range k {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(literal(dialect, c.Value))
		}
		if multi {
			b.WriteByte(')')
		}
	}
	b.WriteByte(')')
	return b.String()
}
