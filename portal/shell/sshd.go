package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"kqi/portal/i18n"
	"kqi/portal/refusal"
	"kqi/storage"
)

// Server is the portal's SSH endpoint: `ssh -p 2022 training-42@portal`
// opens a shell in that job's container, `ssh … training-42@portal CMD`
// runs one command and returns its exit status. Users log in with the
// public keys they registered; there are no passwords. The login names the
// job; the key names the user, who must be a member of the job's tenant.
type Server struct {
	Gateway *Gateway
	Store   *storage.Store
	HostKey ssh.Signer
	Log     *slog.Logger
}

// handshakeTimeout bounds a client's key exchange and login.
const handshakeTimeout = 30 * time.Second

func (s *Server) config() *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		ServerVersion: "SSH-2.0-KQI",
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// Also called for a key the client only offers, before it
			// proves it holds it: the use is recorded after the login.
			k, err := s.Store.SSHKeyByFingerprint(ctx, ssh.FingerprintSHA256(key))
			if err != nil {
				if !errors.Is(err, storage.ErrNotFound) {
					s.Log.Error("looking up an SSH key", "error", err)
				}
				return nil, errors.New("unknown key")
			}
			return &ssh.Permissions{Extensions: map[string]string{"user-id": strconv.FormatInt(k.UserID, 10), "key-id": strconv.FormatInt(k.ID, 10)}}, nil
		},
		// No PasswordCallback or KeyboardInteractiveCallback: publickey only.
	}
	cfg.AddHostKey(s.HostKey)
	return cfg
}

// Serve accepts connections on ln until ctx ends, then closes them.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	cfg := s.config()
	var wg sync.WaitGroup
	conns := map[net.Conn]bool{}
	var mu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	for {
		nc, err := ln.Accept()
		if err != nil {
			wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		mu.Lock()
		conns[nc] = true
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, nc, cfg)
			mu.Lock()
			delete(conns, nc)
			mu.Unlock()
		}()
	}
}

func (s *Server) serveConn(ctx context.Context, nc net.Conn, cfg *ssh.ServerConfig) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(handshakeTimeout))
	conn, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		s.Log.Debug("ssh handshake failed", "from", nc.RemoteAddr().String(), "error", err)
		return
	}
	defer conn.Close()
	nc.SetDeadline(time.Time{})
	go ssh.DiscardRequests(reqs)
	userID, _ := strconv.ParseInt(conn.Permissions.Extensions["user-id"], 10, 64)
	if keyID, err := strconv.ParseInt(conn.Permissions.Extensions["key-id"], 10, 64); err == nil {
		if err := s.Store.UsedSSHKey(ctx, keyID); err != nil {
			s.Log.Warn("recording an SSH key's use", "error", err)
		}
	}
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.Prohibited, "only shells and commands are offered")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		go s.session(ctx, conn, userID, ch, creqs)
	}
}

// ptyRequest is RFC 4254 §6.2's pty-req.
type ptyRequest struct {
	Term          string
	Cols, Rows    uint32
	Width, Height uint32
	Modes         string
}

// windowChange is RFC 4254 §6.7's window-change.
type windowChange struct {
	Cols, Rows    uint32
	Width, Height uint32
}

// session serves one session channel: a pty-req maybe, then one shell or
// exec, with window changes while it runs.
func (s *Server) session(ctx context.Context, conn *ssh.ServerConn, userID int64, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var pty *ptyRequest
	var mu sync.Mutex
	var open *Session
	var started bool
	done := make(chan struct{})
	for req := range reqs {
		switch req.Type {
		case "pty-req":
			var p ptyRequest
			if started || ssh.Unmarshal(req.Payload, &p) != nil {
				req.Reply(false, nil)
				continue
			}
			pty = &p
			req.Reply(true, nil)
		case "window-change":
			var w windowChange
			if ssh.Unmarshal(req.Payload, &w) == nil {
				mu.Lock()
				if pty != nil {
					pty.Cols, pty.Rows = w.Cols, w.Rows
				}
				if open != nil {
					open.Resize(int(w.Cols), int(w.Rows))
				}
				mu.Unlock()
			}
		case "shell", "exec":
			var cmd struct{ Command string }
			if started || (req.Type == "exec" && ssh.Unmarshal(req.Payload, &cmd) != nil) {
				req.Reply(false, nil)
				continue
			}
			started = true
			req.Reply(true, nil)
			go func() {
				defer close(done)
				defer ch.Close() // after the exit status: the client then ends the session
				s.run(ctx, conn, userID, ch, cmd.Command, pty, func(sess *Session) {
					mu.Lock()
					open = sess
					mu.Unlock()
				})
			}()
		default: // env, subsystem (sftp), x11, agent forwarding: not offered
			req.Reply(false, nil)
		}
	}
	// The client closed the channel (or the connection went): end the
	// shell if it still runs.
	mu.Lock()
	if open != nil {
		open.Close(EndClosed)
	}
	mu.Unlock()
	if started {
		<-done
	}
}

// run opens the shell and copies between it and the channel until it
// ends, then sends its exit status.
func (s *Server) run(ctx context.Context, conn *ssh.ServerConn, userID int64, ch ssh.Channel, command string, pty *ptyRequest, opened func(*Session)) {
	lang := i18n.Default
	if u, err := s.Store.UserByID(ctx, userID); err == nil {
		lang = u.Language
	}
	say := func(key string, args ...any) {
		msg := "kqi: " + i18n.T(lang, key, args...)
		if pty != nil {
			fmt.Fprint(ch.Stderr(), "\r\n"+msg+"\r\n")
		} else {
			fmt.Fprintln(ch.Stderr(), msg)
		}
	}
	exit := func(code int) {
		if code < 0 {
			code = 255
		}
		ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
	}
	kind, id, ok := ParseLogin(conn.User())
	var job *storage.Job
	var err error
	if ok {
		job, err = lookupJob(ctx, s.Store, kind, userID, id)
	}
	if !ok || errors.Is(err, storage.ErrNotFound) || (err == nil && job.Kind != kind.Name()) {
		say("shell.no_job", conn.User())
		exit(1)
		return
	}
	if err != nil {
		s.Log.Error("ssh shell: looking up the job", "error", err)
		say("error.internal")
		exit(1)
		return
	}
	req := Request{Job: job, UserID: userID, Via: "ssh", RemoteAddr: conn.RemoteAddr().String(), Command: command}
	if pty != nil {
		req.Term, req.Cols, req.Rows = pty.Term, int(pty.Cols), int(pty.Rows)
	}
	sess, err := s.Gateway.Open(ctx, req)
	if err != nil {
		if r, ok := refusal.Of(err); ok {
			key, arg := r.Key()
			say(key, arg)
		} else {
			s.Log.Error("ssh shell", "job", job.ID, "error", err)
			say("error.internal")
		}
		exit(1)
		return
	}
	opened(sess)
	go func() {
		io.Copy(sess, ch)
		sess.CloseStdin()
	}()
	var out sync.WaitGroup
	out.Add(2)
	go func() { defer out.Done(); io.Copy(ch, sess.Stdout()) }()
	go func() { defer out.Done(); io.Copy(ch.Stderr(), sess.Stderr()) }()
	out.Wait()
	code, reason := sess.Wait()
	if key := endMessage(reason); key != "" {
		say(key)
	}
	exit(code)
}

// endMessage is the catalog key telling the user why the portal ended a
// shell, or "" when it simply exited or the user left.
func endMessage(reason string) string {
	switch reason {
	case EndIdle:
		return "shell.ended_idle"
	case EndJobEnded:
		return "shell.ended_job"
	case EndDisabled:
		return "shell.ended_disabled"
	case EndNotMember:
		return "shell.ended_not_member"
	}
	return ""
}
