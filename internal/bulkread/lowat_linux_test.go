package bulkread

import (
	"io"
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

// Bulk mode raises the socket's low-water mark once a stream has brought
// Chunk bytes (not for a short result), and puts it back.
func TestBulkSetsAndRestoresLowat(t *testing.T) {
	server, client, _ := pair(t)
	if v := lowat(t, client); v != 1 {
		t.Fatalf("low-water mark before bulk mode: %d, want 1", v)
	}
	end := client.Bulk()
	go func() { _, _ = server.Write(make([]byte, Chunk+100)) }()
	p := make([]byte, 4096)
	if _, err := io.ReadFull(client, p); err != nil {
		t.Fatal(err)
	}
	if v := lowat(t, client); v != 1 {
		t.Fatalf("low-water mark after %d bytes of bulk mode: %d, want 1 until a chunk has come", len(p), v)
	}
	if _, err := io.ReadFull(client, make([]byte, Chunk+100-len(p))); err != nil {
		t.Fatal(err)
	}
	if v := lowat(t, client); v <= 1 {
		t.Fatalf("low-water mark after a chunk of bulk mode: %d, want it raised", v)
	}
	end()
	if v := lowat(t, client); v != 1 {
		t.Fatalf("low-water mark after bulk mode: %d, want 1", v)
	}
}
