//go:build !linux

package bulkread

import (
	"net"
	"syscall"
)

// setLowat is Linux-only: elsewhere bulk mode only reads ahead.
func setLowat(net.Conn, int) error { return syscall.ENOTSUP }
