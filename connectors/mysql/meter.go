package mysql

import (
	"context"
	"net"
	"sync/atomic"
	"syscall"

	"github.com/reconhq/reconcile/connectors"
)

// meteredConn counts the bytes read from a connection's socket (TLS and
// protocol overhead included).
type meteredConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *meteredConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// SyscallConn lets the driver check the socket's liveness as it would
// without the wrapper.
func (c *meteredConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, syscall.EINVAL
}

// meteredDial is the driver's dial function for a Source: a plain dial
// (TCP keep-alive on, as the driver would set it), whose connections count
// what they receive into n.
func meteredDial(n *atomic.Int64) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &meteredConn{Conn: conn, n: n}, nil
	}
}

// BytesReceived is what the Source's connections (the snapshot's, and the
// short-lived ones that describe tables or stop statements) have received
// from the server so far (connectors.Meter).
func (s *Source) BytesReceived() int64 { return s.received.Load() }

var _ connectors.Meter = (*Source)(nil)
