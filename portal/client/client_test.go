package client_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kqi/portal/client"
	"kqi/portal/portaltest"
)

func TestClientAgainstThePortal(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab-a")
	env.User(t, "alice", "correct-horse-9", false, "lab-a")
	ctx := context.Background()
	c := client.New(env.URL, "")
	if _, err := c.Login(ctx, "alice", "wrong-password-1", "lab-a"); err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("bad password: %v", err)
	}
	tok, err := c.Login(ctx, "alice", "correct-horse-9", "lab-a")
	if err != nil {
		t.Fatal(err)
	}
	c.Token = tok.Token
	dir := t.TempDir()
	for _, n := range []string{"a.txt", "b c.txt"} {
		os.WriteFile(filepath.Join(dir, n), []byte("content of "+n), 0o600)
	}
	d, err := c.CreateData(ctx, "two", "memo", []string{"t1"}, client.Upload{Files: []string{filepath.Join(dir, "a.txt"), filepath.Join(dir, "b c.txt")}})
	if err != nil || d.FileCount != 2 || d.Memo != "memo" {
		t.Fatalf("create: %v %+v", err, d)
	}
	body, size, err := c.Open(ctx, client.DataFilePath(d.ID, "b c.txt"))
	if err != nil || size != int64(len("content of b c.txt")) {
		t.Fatalf("open: %v %d", err, size)
	}
	body.Close()
	if _, err := c.Data(ctx, 999999); !client.IsNotFound(err) || err.Error() != "not found" {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := c.CreateData(ctx, "x", "", nil, client.Upload{Files: []string{filepath.Join(dir, "missing")}}); err == nil {
		t.Error("a missing file was uploaded")
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Me(ctx); err == nil {
		t.Error("the token works after logout")
	}
}

// A server that accepts connections but never answers is a clear error
// within the timeout, not a hang.
func TestClientServerSilent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	c := client.New("http://"+ln.Addr().String(), "tok")
	c.Timeout = time.Second
	start := time.Now()
	_, err = c.Me(context.Background())
	if err == nil || !strings.Contains(err.Error(), "did not answer in time") || time.Since(start) > 5*time.Second {
		t.Fatalf("silent server: %v after %v", err, time.Since(start))
	}
	ln.Close()
	c = client.New("http://"+ln.Addr().String(), "tok")
	if _, err := c.Me(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Fatalf("closed port: %v", err)
	}
}
