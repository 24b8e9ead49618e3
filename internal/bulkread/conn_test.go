package bulkread

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// pair returns the two ends of a loopback TCP connection, the client's
// wrapped and counting into the returned counter.
func pair(t *testing.T) (server net.Conn, client *Conn, received *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	received = new(atomic.Int64)
	client = Wrap(c, received)
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client, received
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := mrand.NewChaCha8([32]byte{7})
	_, _ = r.Read(b)
	return b
}

// A stream whose tail is less than a chunk, on a connection the server
// keeps open, is delivered whole: once the low-water mark is raised (after
// the first chunk), bulk reads stop waiting for it after MaxWait. Without
// that the read would block until the caller's deadline and fail.
func TestBulkDeliversShortTailOnOpenConnection(t *testing.T) {
	server, client, received := pair(t)
	want := randomBytes(Chunk + 3000)
	go func() {
		if _, err := server.Write(want[:Chunk]); err != nil {
			return
		}
		for i := 0; i < 3; i++ {
			time.Sleep(5 * time.Millisecond)
			_, _ = server.Write(want[Chunk+i*1000 : Chunk+(i+1)*1000])
		}
	}()
	end := client.Bulk()
	defer end()
	readExactly(t, client, want, "bulk read of a short stream")
	if n := received.Load(); n != int64(len(want)) {
		t.Fatalf("received counts %d bytes, want %d", n, len(want))
	}
}

// The caller's deadline ends a bulk read with the usual timeout error,
// whether it was set before the read or from another goroutine during it.
func TestBulkKeepsCallersDeadline(t *testing.T) {
	_, client, _ := pair(t)
	defer client.Bulk()()
	if err := client.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the caller's deadline: %v, want a deadline error", err)
	}

	if err := client.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := client.Read(make([]byte, Chunk)) // the large-read path
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := client.SetDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read stopped by a deadline set during it: %v, want a deadline error", err)
	}
}

// Reads of any size, in and after bulk mode, return the stream in order;
// what bulk mode read ahead is returned after it ends.
func TestBulkReadAheadKeepsOrderAcrossModes(t *testing.T) {
	server, client, received := pair(t)
	want := randomBytes(3*Chunk + 12345)
	go func() {
		for rest := want; len(rest) > 0; {
			n := min(len(rest), 1+mrand.IntN(200_000))
			if _, err := server.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
		}
		server.Close()
	}()
	var got []byte
	end := client.Bulk()
	sizes := []int{1, 4096, 17, Chunk, 100_000, 4096, Chunk / 2, 3}
	for i := 0; len(got) < 2*Chunk; i++ {
		p := make([]byte, sizes[i%len(sizes)])
		n, err := client.Read(p)
		got = append(got, p[:n]...)
		if err != nil {
			t.Fatalf("bulk read after %d bytes: %v", len(got), err)
		}
	}
	end()
	rest, err := io.ReadAll(client)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, rest...)
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes that differ from the %d sent", len(got), len(want))
	}
	if n := received.Load(); n != int64(len(want)) {
		t.Fatalf("received counts %d bytes, want %d", n, len(want))
	}
}

// Bulk mode works under TLS: Find reaches the socket through tls.Conn,
// and the short waits it cuts never reach the TLS layer as errors.
func TestBulkUnderTLS(t *testing.T) {
	server, client, _ := pair(t)
	cert := selfSigned(t)
	want := randomBytes(Chunk + 200_000)
	go func() {
		s := tls.Server(server, &tls.Config{Certificates: []tls.Certificate{cert}})
		for rest := want; len(rest) > 0; {
			n := min(len(rest), 70_000)
			if len(rest) == len(want) {
				n = Chunk // raises the low-water mark
			}
			if _, err := s.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
			time.Sleep(5 * time.Millisecond)
		}
	}()
	tc := tls.Client(client, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if Find(tc) != client {
		t.Fatal("Find does not reach the wrapped connection under TLS")
	}
	defer Find(tc).Bulk()()
	readExactly(t, tc, want, "bulk read under TLS")
}

func TestFindAndNilBulk(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Find(a) != nil {
		t.Fatal("Find of an unwrapped connection is not nil")
	}
	var none *Conn
	none.Bulk()() // no-op, no panic
	w := Wrap(a, nil)
	if Find(w) != w {
		t.Fatal("Find of a wrapped connection is not itself")
	}
	// A pipe has no socket: bulk mode only reads ahead.
	defer w.Bulk()()
	go func() { _, _ = b.Write([]byte("hello")) }()
	p := make([]byte, 5)
	if _, err := io.ReadFull(w, p); err != nil || string(p) != "hello" {
		t.Fatalf("bulk read from a pipe: %q, %v", p, err)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// A deadline set from another goroutine while a bulk read waits (as a
// cancel request's grace period is) does not make the read wait for the
// low-water mark: a short answer below it still arrives within MaxWait.
func TestBulkDeadlineFromAnotherGoroutineKeepsShortWaits(t *testing.T) {
	server, client, _ := pair(t)
	defer client.Bulk()()
	go func() { _, _ = server.Write(make([]byte, Chunk)) }() // raises the mark
	if _, err := io.ReadFull(client, make([]byte, Chunk)); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		p := make([]byte, 100)
		n, err := client.Read(p)
		if err != nil {
			t.Errorf("read: %v", err)
		}
		got <- p[:n]
	}()
	time.Sleep(20 * time.Millisecond) // the read is waiting
	if err := client.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := server.Write([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	if s := string(<-got); s != "answer" {
		t.Fatalf("read %q, want the short answer", s)
	}
	// Clearing the deadline from another goroutine leaves it unbounded
	// for the caller, not for the socket.
	go func() {
		p := make([]byte, 100)
		n, _ := client.Read(p)
		got <- p[:n]
	}()
	time.Sleep(20 * time.Millisecond)
	if err := client.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := server.Write([]byte("second")); err != nil {
		t.Fatal(err)
	}
	if s := string(<-got); s != "second" {
		t.Fatalf("read %q, want the second answer", s)
	}
}

// A zero-length read returns at once, as on any connection.
func TestBulkZeroLengthRead(t *testing.T) {
	_, client, _ := pair(t)
	defer client.Bulk()()
	if n, err := client.Read(nil); n != 0 || err != nil {
		t.Fatalf("zero-length read: %d, %v", n, err)
	}
}

// readExactly reads len(want) bytes from c, within 30 s, and fails unless
// they are want.
func readExactly(t *testing.T, c net.Conn, want []byte, what string) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s returned other bytes than were sent", what)
	}
}
