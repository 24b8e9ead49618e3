package bulkread

import (
	"syscall"
	"testing"
)

func lowat(t *testing.T, c *Conn) int {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := raw.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT)
	}); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// Bulk mode raises the socket's low-water mark and puts it back.
func TestBulkSetsAndRestoresLowat(t *testing.T) {
	_, client, _ := pair(t)
	if v := lowat(t, client); v != 1 {
		t.Fatalf("low-water mark before bulk mode: %d, want 1", v)
	}
	end := client.Bulk()
	if v := lowat(t, client); v <= 1 {
		t.Fatalf("low-water mark in bulk mode: %d, want it raised", v)
	}
	end()
	if v := lowat(t, client); v != 1 {
		t.Fatalf("low-water mark after bulk mode: %d, want 1", v)
	}
}
