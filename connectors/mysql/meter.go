package mysql

import (
	"context"
	"net"
	"sync/atomic"

	"github.com/reconhq/reconcile/connectors"
	"github.com/reconhq/reconcile/internal/bulkread"
)

// dialedKey carries, in a Connect call's context, where the dial function
// leaves the connection it made: the session keeps it to read its scans in
// bulk.
type dialedKey struct{}

// withDialed returns a context for Connect and the slot that will hold the
// connection it dials.
func withDialed(ctx context.Context) (context.Context, **bulkread.Conn) {
	slot := new(*bulkread.Conn)
	return context.WithValue(ctx, dialedKey{}, slot), slot
}

// meteredDial is the driver's dial function for a Source: a plain dial
// (TCP keep-alive on, as the driver would set it), whose connections count
// what they receive into n and can read in bulk.
func meteredDial(n *atomic.Int64) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c := bulkread.Wrap(conn, n)
		if slot, ok := ctx.Value(dialedKey{}).(**bulkread.Conn); ok {
			*slot = c
		}
		return c, nil
	}
}

// BytesReceived is what the Source's connections (the snapshot's, and the
// short-lived ones that describe tables or stop statements) have received
// from the server so far (connectors.Meter).
func (s *Source) BytesReceived() int64 { return s.received.Load() }

var _ connectors.Meter = (*Source)(nil)
