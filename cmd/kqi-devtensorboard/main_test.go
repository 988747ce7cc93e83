package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestStandIn(t *testing.T) {
	logdir := t.TempDir()
	os.MkdirAll(filepath.Join(logdir, "train"), 0o755)
	os.WriteFile(filepath.Join(logdir, "train", "events.out.tfevents.1.x"), nil, 0o644)
	os.WriteFile(filepath.Join(logdir, "events.out.tfevents.2.y"), nil, 0o644)
	srv := httptest.NewServer(handler(logdir, normalizePrefix("/tensorboard/7/")))
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string, string) {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	if code, loc, _ := get("/tensorboard/7"); code != http.StatusMovedPermanently || loc != "/tensorboard/7/" {
		t.Errorf("bare prefix: %d %q", code, loc)
	}
	if code, _, body := get("/tensorboard/7/"); code != 200 || !strings.Contains(body, `<li class="run">.</li>`) || !strings.Contains(body, `<li class="run">train</li>`) {
		t.Errorf("page: %d %s", code, body)
	}
	if code, _, body := get("/tensorboard/7/data/runs"); code != 200 || strings.TrimSpace(body) != `[".","train"]` {
		t.Errorf("runs: %d %s", code, body)
	}
	if code, _, _ := get("/"); code != http.StatusNotFound {
		t.Errorf("outside the prefix: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/tensorboard/7/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.Write(ctx, websocket.MessageText, []byte("hello"))
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "hello" {
		t.Errorf("echo: %q %v", msg, err)
	}
}
