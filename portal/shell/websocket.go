package shell

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	// coder/websocket (formerly nhooyr.io/websocket): maintained, small,
	// context-aware, no dependencies, and it checks the Origin on Accept
	// by default; gorilla/websocket is in maintenance mode.
	"github.com/coder/websocket"

	"kqi/portal/i18n"
	"kqi/portal/refusal"
)

// SameOrigin reports whether a WebSocket upgrade comes from the portal's
// own pages: its Origin is the portal's public URL (base) or the host the
// request was sent to. Without the check, any site a logged-in user visits
// could open a shell with the user's cookie (cross-site WebSocket
// hijacking, which Open OnDemand's shell once allowed). Browsers always
// send Origin on a WebSocket; a request without one is refused too.
func SameOrigin(r *http.Request, base string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	o, err := url.Parse(origin)
	if err != nil || o.Host == "" {
		return false
	}
	if b, err := url.Parse(base); err == nil && strings.EqualFold(o.Scheme, b.Scheme) && strings.EqualFold(o.Host, b.Host) {
		return true
	}
	return strings.EqualFold(o.Host, r.Host)
}

// control is a message between the page's terminal and the portal, sent
// as a WebSocket text message; terminal bytes go as binary messages.
type control struct {
	Type    string `json:"type"`              // "resize" (page → portal), "exit" or "error" (portal → page)
	Cols    int    `json:"cols,omitempty"`    // resize
	Rows    int    `json:"rows,omitempty"`    // resize
	Code    *int   `json:"code,omitempty"`    // exit: the shell's exit status
	Message string `json:"message,omitempty"` // exit, error: what to show, translated
}

// maxPaste bounds one message from the page, such as a large paste.
const maxPaste = 1 << 20

// ServeWebSocket upgrades the request and runs req's shell over it. The
// caller has checked the session, the job's tenant and SameOrigin. A
// refusal (job not running, too many shells) is sent to the terminal as
// an error message, since a page cannot read why an upgrade failed.
func (g *Gateway) ServeWebSocket(w http.ResponseWriter, r *http.Request, req Request, lang string) {
	conn, err := websocket.Accept(w, r, nil) // Accept checks the Origin against Host again
	if err != nil {
		return
	}
	defer conn.CloseNow()
	conn.SetReadLimit(maxPaste)
	ctx := context.WithoutCancel(r.Context())
	send := func(c control) {
		b, _ := json.Marshal(c)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		conn.Write(wctx, websocket.MessageText, b)
	}
	req.Term = "xterm-256color"
	req.Cols, req.Rows = size(r.URL.Query().Get("cols"), 80), size(r.URL.Query().Get("rows"), 24)
	sess, err := g.Open(ctx, req)
	if err != nil {
		msg := i18n.T(lang, "error.internal")
		if ref, ok := refusal.Of(err); ok {
			key, arg := ref.Key()
			msg = i18n.T(lang, key, arg)
		} else {
			g.Log.Error("web shell", "job", req.Job.ID, "error", err)
		}
		send(control{Type: "error", Message: msg})
		conn.Close(websocket.StatusNormalClosure, "")
		return
	}
	go func() {
		for {
			typ, b, err := conn.Read(ctx)
			if err != nil {
				sess.Close(EndClosed)
				return
			}
			if typ == websocket.MessageBinary {
				if _, err := sess.Write(b); err != nil {
					return
				}
				continue
			}
			var c control
			if json.Unmarshal(b, &c) == nil && c.Type == "resize" {
				sess.Resize(clamp(c.Cols), clamp(c.Rows))
			}
		}
	}()
	buf := make([]byte, 32<<10)
	out := sess.Stdout()
	for {
		n, err := out.Read(buf)
		if n > 0 {
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			werr := conn.Write(wctx, websocket.MessageBinary, buf[:n])
			cancel()
			if werr != nil {
				sess.Close(EndClosed)
			}
		}
		if err != nil {
			break
		}
	}
	code, reason := sess.Wait()
	c := control{Type: "exit", Message: i18n.T(lang, "shell.ended")}
	if code >= 0 {
		c.Code = &code
	}
	if key := endMessage(reason); key != "" {
		c.Message = i18n.T(lang, key)
	}
	send(c)
	if err := conn.Close(websocket.StatusNormalClosure, ""); err != nil && !errors.Is(err, context.Canceled) {
		g.Log.Debug("closing a web shell", "error", err)
	}
}

// size reads a terminal dimension from the query, or def.
func size(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return clamp(n)
}

func clamp(n int) int { return min(max(n, 1), 1000) }
