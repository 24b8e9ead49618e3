package connectors

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Writing to a target, for fix-up batches. The engine only reads; an
// approved fix-up batch is the one thing that writes, through an Applier.
// A connector does not know the engine's canonical values, so the
// operations it applies carry neutral Go values, one of:
//
//	nil              NULL
//	bool             boolean
//	int64, uint64    integer
//	float64          binary float (NaN and the infinities included)
//	Decimal          exact decimal as text ("-12.340", "1.5e+30", "NaN")
//	string           text
//	[]byte           binary
//	time.Time        instant (UTC)
//	Date             calendar date
//	TimeOfDay        time of day (MySQL TIME may be negative or past 24 h)
//	json.RawMessage  JSON document
//
// A connector binds them as statement parameters, never as SQL text, and
// converts them to the column's type on the server's side where it can.

// Decimal is an exact decimal number written as text.
type Decimal string

// Date is a calendar date as days since 1970-01-01.
type Date int32

// Time returns the date as midnight UTC.
func (d Date) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String formats the date as YYYY-MM-DD.
func (d Date) String() string { return d.Time().Format("2006-01-02") }

// TimeOfDay is a time of day as the duration since midnight.
type TimeOfDay time.Duration

// String formats the time as [-]HH:MM:SS[.ffffff].
func (t TimeOfDay) String() string {
	us := time.Duration(t).Microseconds()
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	s := fmt.Sprintf("%s%02d:%02d:%02d", sign, us/3_600_000_000, us/60_000_000%60, us/1_000_000%60)
	if f := us % 1_000_000; f != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%06d", f), "0")
	}
	return s
}

// OpKind is what a write operation does to one row.
type OpKind string

// The operation kinds.
const (
	OpInsert OpKind = "insert"
	OpUpdate OpKind = "update"
	OpDelete OpKind = "delete"
)

// Col is one column and its value (a neutral value, see above).
type Col struct {
	Name  string
	Value any
}

// WriteOp is one guarded change of one row.
//
//   - insert: Set is the whole row (key columns included); the row is
//     inserted only if no row with its key exists.
//   - update: Set holds only the changed columns; the row with Key is
//     updated only if every column of Expect still holds the value in
//     Expect (NULL equals NULL).
//   - delete: the row with Key is deleted only if every column of Expect
//     still holds the value in Expect.
type WriteOp struct {
	Kind   OpKind
	Key    []Col
	Set    []Col
	Expect []Col
}

// Status is the outcome of one write operation.
type Status string

// The outcomes. An operation whose row already holds what the operation
// would write (an inserted row equal to Set, an updated row whose Set
// columns already hold Set, a deleted row that is gone) is
// StatusAlreadyApplied: applying a batch twice changes nothing. A row
// that holds neither the expected pre-image nor the post-image is
// StatusConflict and is left alone.
const (
	StatusApplied        Status = "applied"
	StatusAlreadyApplied Status = "already_applied"
	StatusConflict       Status = "conflict"
	StatusError          Status = "error"
)

// Outcome is what happened to one operation.
type Outcome struct {
	Status Status
	// Message explains an error or a conflict; empty otherwise.
	Message string
}

// ApplyOptions shape an Apply.
type ApplyOptions struct {
	// TxOps is the number of operations per transaction; 0 means 1,000.
	TxOps int
	// DryRun runs every operation and its guard inside transactions that
	// are rolled back: the outcomes say what would happen.
	DryRun bool
	// Committed, when set, is called after each transaction commits (or,
	// in a dry run, is rolled back) with the index of its first operation
	// and the outcomes of its operations, in order. An error from it stops
	// the Apply.
	Committed func(first int, outcomes []Outcome) error
}

// Applier is an optional capability: a target that applies guarded write
// operations to one table. It writes on a connection of its own, never in
// the snapshot the Source reads from, and returns one Outcome per
// operation, in order. Operations in a transaction that failed as a whole
// (a lost connection, a failed commit) are StatusError; an error return
// means the Apply stopped, and the outcomes cover the operations of the
// transactions that were committed before.
type Applier interface {
	Apply(ctx context.Context, table string, ops []WriteOp, opts ApplyOptions) ([]Outcome, error)
}
