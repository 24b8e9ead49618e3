package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/reconhq/reconcile/internal/bulkread"
)

// copyOutBuffer is how much of the COPY stream copyOut reads at a time.
const copyOutBuffer = 1 << 20

// copyOut runs a COPY ... TO STDOUT on pc and hands each row's CopyData
// payload to w, reading the protocol itself from the connection in large
// buffers. pgconn's CopyTo handles one message per row, with a per-message
// cost that was about a third of the client's CPU on wide scans; this loop
// parses the frames where they lie in the buffer.
//
// It leaves pc idle, as CopyTo does: it reads through ReadyForQuery, also
// after an error. Cancelling ctx sends the server a cancel request (the
// COPY then ends with an error, and copyOut returns ctx.Err()); should the
// server not answer, the read is unblocked after a grace period and the
// connection is unusable (the caller discards connections after errors).
// A connection failure returns the network error, which connectionLost
// recognises.
func copyOut(ctx context.Context, pc *pgconn.PgConn, sql string, w io.Writer) (err error) {
	if err := pc.SyncConn(ctx); err != nil {
		return err
	}
	conn := pc.Conn()
	cancelled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(cancelled)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = pc.CancelRequest(cctx)
		_ = conn.SetReadDeadline(time.Now().Add(cancelGrace))
	})
	defer func() {
		if !stop() {
			// The cancel request went out: wait until it has been
			// delivered, so that it cannot land on the next statement, and
			// report the cancellation, so that the caller does not reuse a
			// connection with a read deadline set.
			<-cancelled
			if err == nil {
				err = ctx.Err()
			}
		}
	}()

	q := make([]byte, 5, 6+len(sql))
	q[0] = 'Q'
	q = append(append(q, sql...), 0)
	binary.BigEndian.PutUint32(q[1:5], uint32(len(q)-1))
	if _, werr := conn.Write(q); werr != nil {
		return orCtx(ctx, werr)
	}

	// The server sends the rows as fast as it can produce them: read them
	// in large chunks rather than waking for every packet.
	defer bulkread.Find(conn).Bulk()()

	buf := make([]byte, copyOutBuffer)
	start, end := 0, 0
	var first error // the first error the server reported
	for {
		if end-start >= 5 {
			size := int(binary.BigEndian.Uint32(buf[start+1:]))
			if size < 4 {
				return fmt.Errorf("copy: protocol error: message %q of length %d", buf[start], size)
			}
			if end-start >= 1+size {
				typ, body := buf[start], buf[start+5:start+1+size]
				start += 1 + size
				switch typ {
				case 'd': // CopyData: one row
					if _, err := w.Write(body); err != nil && first == nil {
						first = err
					}
				case 'E':
					var er pgproto3.ErrorResponse
					if err := er.Decode(body); err != nil {
						return fmt.Errorf("copy: decode error response: %w", err)
					}
					if first == nil {
						first = pgconn.ErrorResponseToPgError(&er)
					}
				case 'Z': // ReadyForQuery: the server is done
					if err := ctx.Err(); err != nil {
						return errors.Join(err, first)
					}
					return first
				}
				// 'H' CopyOutResponse, 'c' CopyDone, 'C' CommandComplete,
				// 'N' notices, 'S' parameter status, 'A' notifications.
				continue
			}
			if 1+size > len(buf) {
				// A row larger than the buffer: grow it to fit.
				nb := make([]byte, 1+size+copyOutBuffer)
				end = copy(nb, buf[start:end])
				buf, start = nb, 0
			}
		}
		if start > 0 && (len(buf)-end < 64<<10 || start == end) {
			end = copy(buf, buf[start:end])
			start = 0
		}
		n, rerr := conn.Read(buf[end:])
		end += n
		if rerr != nil && n == 0 {
			if rerr == io.EOF {
				rerr = io.ErrUnexpectedEOF
			}
			if first != nil {
				// The server said why before it closed the connection
				// (57P01 when its backend was terminated).
				rerr = fmt.Errorf("%w (then: %v)", first, rerr)
			}
			return orCtx(ctx, rerr)
		}
	}
}

// orCtx prefers the context's error: a read that failed because the COPY
// was cancelled failed because of the cancellation.
func orCtx(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}
