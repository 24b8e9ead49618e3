package bulkread

import (
	"net"
	"syscall"
)

// setLowat sets the socket's receive low-water mark. The kernel caps it at
// half the largest receive buffer and grows the buffer to hold it.
func setLowat(c net.Conn, n int) error {
	if _, ok := c.LocalAddr().(*net.TCPAddr); !ok {
		// A Unix socket ignores the mark when it reports readiness.
		return syscall.EINVAL
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return syscall.EINVAL
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
	}); err != nil {
		return err
	}
	return serr
}
