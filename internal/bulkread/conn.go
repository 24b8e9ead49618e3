// Package bulkread wraps a connection to a database server so that a long
// result stream (a COPY, a table scan) wakes its reader once per large
// chunk of data rather than once per network packet.
//
// A reader that is faster than the server finds the socket empty after
// nearly every read and parks until the next packet arrives: thousands of
// times a second per stream. Each park and wake-up is a round trip through
// the Go scheduler and the kernel (a futex, a thread switch, often a
// sysmon wake-up), which on a virtual machine costs more than decoding the
// rows it delivers: on the 2-core machine of the README, a 1M-row
// PostgreSQL diff spent more CPU switching threads than reading rows.
//
// Once a stream in bulk mode has brought Chunk bytes (a short result is
// read as usual, with no added wait), the socket's receive low-water mark
// (SO_RCVLOWAT) is raised to Chunk bytes, so the kernel reports the socket
// readable only once that much has arrived; a read never waits longer than
// MaxWait for it, so a slow stream or the short tail of one is delivered
// within MaxWait. Small reads (a driver's 4 KiB packet reads) are served
// from a read-ahead buffer filled Chunk at a time. The caller's own read
// deadlines keep their meaning throughout.
package bulkread

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Chunk is the receive low-water mark and read-ahead size of bulk mode.
const Chunk = 1 << 20

// MaxWait is the longest a bulk read waits for Chunk bytes before it takes
// what has arrived.
const MaxWait = 3 * time.Millisecond

// directRead is the size from which a bulk read goes straight into the
// caller's buffer rather than through the read-ahead buffer.
const directRead = 64 << 10

// Conn is a net.Conn with a bulk mode and, optionally, a count of the
// bytes read from it. Read is for one goroutine at a time, as on any
// net.Conn; SetReadDeadline and SetDeadline may be called from others
// (to stop a blocked read), Bulk only by the reading goroutine.
type Conn struct {
	net.Conn
	received *atomic.Int64 // nil: not counted

	mu       sync.Mutex
	deadline time.Time // the caller's read deadline
	bulk     bool      // reads go through bulkRead
	lowat    bool      // bulk mode raised SO_RCVLOWAT, so reads wait at most MaxWait

	phase int64 // bytes read since bulk mode began, until it reaches Chunk

	buf        []byte // read-ahead: buf[r:w] is data read but not yet returned
	r, w       int
	bulkBuffer []byte // kept between bulk phases
}

// Wrap returns c with a bulk mode; when received is not nil, every byte
// read from c is added to it.
func Wrap(c net.Conn, received *atomic.Int64) *Conn {
	return &Conn{Conn: c, received: received}
}

// Find returns the Conn under c, looking through TLS, or nil when c was
// not made by Wrap.
func Find(c net.Conn) *Conn {
	for {
		switch t := c.(type) {
		case *Conn:
			return t
		case *tls.Conn:
			c = t.NetConn()
		default:
			return nil
		}
	}
}

// Bulk puts c in bulk mode until the returned function is called. On a
// nil Conn both are no-ops, so callers need not check what Find returned.
func (c *Conn) Bulk() (end func()) {
	if c == nil {
		return func() {}
	}
	c.mu.Lock()
	if c.bulk {
		c.mu.Unlock()
		return func() {}
	}
	c.bulk, c.lowat, c.phase = true, false, 0
	c.mu.Unlock()
	if c.bulkBuffer == nil {
		c.bulkBuffer = make([]byte, Chunk)
	}
	if c.r == c.w {
		c.buf, c.r, c.w = c.bulkBuffer, 0, 0
	}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.bulk {
			return
		}
		c.bulk = false
		if c.lowat {
			c.lowat = false
			_ = setLowat(c.Conn, 1)
			// Put back the caller's deadline, which bulk reads replaced
			// with their own shorter ones.
			_ = c.Conn.SetReadDeadline(c.deadline)
		}
	}
}

// Read reads from the read-ahead buffer first, then from the connection.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.r < c.w {
		n := copy(p, c.buf[c.r:c.w])
		c.r += n
		return n, nil
	}
	c.mu.Lock()
	bulk, lowat := c.bulk, c.lowat
	c.mu.Unlock()
	if !bulk {
		return c.read(p)
	}
	if len(p) >= directRead {
		// Large reads (a COPY loop's) go straight into the caller's buffer.
		return c.bulkRead(p, lowat)
	}
	n, err := c.bulkRead(c.buf, lowat)
	c.r, c.w = 0, n
	if n > 0 {
		m := copy(p, c.buf[:n])
		c.r = m
		return m, nil
	}
	return 0, err
}

// bulkRead reads into p. Until the stream has brought Chunk bytes it reads
// as usual; then it raises the low-water mark. With the mark raised, each
// wait is cut at MaxWait (or the caller's deadline, when sooner), after
// which a read returns whatever has arrived; only the caller's deadline
// ends the read with a timeout.
func (c *Conn) bulkRead(p []byte, lowat bool) (int, error) {
	if !lowat {
		n, err := c.read(p)
		if c.phase < Chunk {
			if c.phase += int64(n); c.phase >= Chunk {
				c.mu.Lock()
				if c.bulk {
					c.lowat = setLowat(c.Conn, Chunk) == nil
				}
				c.mu.Unlock()
			}
		}
		return n, err
	}
	for {
		c.mu.Lock()
		err := c.Conn.SetReadDeadline(c.socketDeadline(c.deadline))
		c.mu.Unlock()
		if err != nil {
			return 0, err
		}
		n, err := c.read(p)
		if n > 0 || err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		c.mu.Lock()
		user := c.deadline
		c.mu.Unlock()
		if !user.IsZero() && !time.Now().Before(user) {
			return n, err // the caller's deadline passed
		}
	}
}

func (c *Conn) read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.received != nil && n > 0 {
		c.received.Add(int64(n))
	}
	return n, err
}

// SetReadDeadline records the caller's deadline, which bulk reads keep to,
// and sets it on the connection (stopping a read in progress if it has
// passed).
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return c.Conn.SetReadDeadline(c.socketDeadline(t))
}

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetReadDeadline(c.socketDeadline(t))
}

// socketDeadline is the read deadline to give the socket for the caller's
// t. With the low-water mark raised, a read in progress (set on another
// goroutine, to stop it) must still wake within MaxWait to take a tail
// below the mark, such as the server's answer to a cancel request: the
// read loop then goes on to the caller's t. c.mu is held.
func (c *Conn) socketDeadline(t time.Time) time.Time {
	if !c.lowat {
		return t
	}
	d := time.Now().Add(MaxWait)
	if !t.IsZero() && t.Before(d) {
		return t
	}
	return d
}

// SyscallConn is the socket's, so that a driver can check the socket's
// liveness as it would without the wrapper.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, syscall.EINVAL
}
