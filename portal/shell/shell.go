// Package shell is the portal's way into running jobs: it opens a shell in
// a job's container for a user (from the page's terminal or the portal's
// SSH endpoint), records every session, and ends sessions that idle, that
// outlive their job or their user's access, or that exceed the user's share.
package shell

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/storage"
	"kqi/storage/files"
)

// Process is a running shell in a job's container: slurm.Shell, or a
// stand-in in tests.
type Process interface {
	io.Writer // the shell's input
	CloseStdin() error
	Stdout() io.Reader
	Stderr() io.Reader // empty with a terminal
	Resize(cols, rows int) error
	Wait() (int, error)
	Close() error
}

// Opener starts shells on the cluster.
type Opener interface {
	Open(ctx context.Context, req slurm.ShellRequest) (Process, error)
}

// Shells opens real shells through the login node.
type Shells struct{ slurm.Shells }

// Open implements Opener.
func (s Shells) Open(ctx context.Context, req slurm.ShellRequest) (Process, error) {
	sh, err := s.Shells.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return sh, nil
}

// Config is the site's rules for shells.
type Config struct {
	Idle       time.Duration // a session with no input or output this long is closed (KQI_SHELL_IDLE)
	MaxPerUser int           // open sessions one user may have at once (KQI_SHELL_MAX_PER_USER)
	// JobCheck is how often an open session checks that its job still
	// runs; 5 s when 0. Slurm ends the shell with the job in any case;
	// this also ends it when the portal learns first (a stop).
	JobCheck time.Duration
}

// Gateway opens, watches and records shells.
type Gateway struct {
	Store  *storage.Store
	Files  files.FS // says where a job's directory is on the nodes
	Opener Opener
	Cfg    Config
	Log    *slog.Logger
}

// Request is a shell a user asks for. The caller has checked that the
// user may see the job (its tenant's member).
type Request struct {
	Job        *storage.Job
	UserID     int64
	Via        string // "web" or "ssh"
	RemoteAddr string
	// Command runs instead of an interactive shell when not "".
	Command string
	// Term is the terminal type; "" for none (a command over pipes).
	Term       string
	Cols, Rows int
}

// Reasons a session ends, as recorded and shown.
const (
	EndExit     = "exit"      // the shell or command exited
	EndIdle     = "idle"      // nothing went either way for Config.Idle
	EndJobEnded = "job_ended" // the job stopped running
	EndClosed   = "closed"    // the user's connection went away
	EndFailed   = "failed"    // the cluster could not start it
	EndStopped  = "portal_stopped"
	// EndDisabled: an administrator disabled (or deleted) the user.
	EndDisabled = "user_disabled"
	// EndNotMember: the user was removed from the job's tenant.
	EndNotMember = "not_member"
)

// Start closes what a stopped portal left open; call it once at start-up.
func (g *Gateway) Start(ctx context.Context) error {
	n, err := g.Store.EndOpenShellSessions(ctx, EndStopped)
	if n > 0 {
		g.Log.Info("closed the shell sessions a stopped portal left open", "count", n)
	}
	return err
}

// Open starts a shell. Refusals: the job is not running (not yet, or no
// more), the user has too many open, the cluster cannot be reached.
func (g *Gateway) Open(ctx context.Context, req Request) (*Session, error) {
	if err := runningCheck(req.Job); err != nil {
		return nil, err
	}
	row, err := g.Store.OpenShellSession(ctx, storage.NewShellSession{
		TenantID: req.Job.TenantID, JobID: req.Job.ID, UserID: req.UserID, Via: req.Via,
		RemoteAddr: req.RemoteAddr, Interactive: req.Command == "",
	}, g.Cfg.MaxPerUser)
	if errors.Is(err, storage.ErrShellLimit) {
		return nil, refusal.Conflictf("shell.too_many", strconv.Itoa(g.Cfg.MaxPerUser))
	}
	if err != nil {
		return nil, err
	}
	proc, err := g.Opener.Open(ctx, slurm.ShellRequest{
		JobID: req.Job.SlurmJobID, JobDir: g.Files.LocalPath(req.Job.JobDir),
		Command: req.Command, Term: req.Term, Cols: req.Cols, Rows: req.Rows,
	})
	if err != nil {
		g.Log.Warn("opening a shell failed", "job", req.Job.ID, "error", err)
		g.record(row.ID, nil, EndFailed)
		return nil, refusal.Unavailablef("", "shell.unavailable")
	}
	s := &Session{g: g, row: row, job: req.Job, proc: proc, ended: make(chan struct{})}
	s.touch()
	g.Log.Info("shell opened", "session", row.ID, "job", req.Job.ID, "user", req.UserID, "via", req.Via, "from", req.RemoteAddr)
	go s.watch()
	return s, nil
}

// runningCheck refuses a job that has no container to enter.
func runningCheck(j *storage.Job) error {
	switch {
	case j.Status == string(slurm.StatusRunning):
		return nil
	case j.Active():
		return refusal.Conflictf("shell.not_started")
	default:
		return refusal.Conflictf("shell.job_ended")
	}
}

func (g *Gateway) record(id int64, code *int, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Store.EndShellSession(ctx, id, code, reason); err != nil {
		g.Log.Error("recording the end of a shell session", "session", id, "error", err)
	}
}

// Session is one open shell. The bridge (SSH channel or WebSocket) copies
// input with Write, reads Stdout and Stderr to their end, then calls
// Wait; Close ends the shell early.
type Session struct {
	g    *Gateway
	row  *storage.ShellSession
	job  *storage.Job
	proc Process

	active atomic.Int64 // unix nanoseconds of the last input or output

	mu     sync.Mutex
	reason string // why it is being ended, "" while nobody ended it
	ended  chan struct{}
	once   sync.Once
}

// ID is the session's row id.
func (s *Session) ID() int64 { return s.row.ID }

func (s *Session) touch() { s.active.Store(time.Now().UnixNano()) }

// Write sends input to the shell.
func (s *Session) Write(p []byte) (int, error) {
	s.touch()
	return s.proc.Write(p)
}

// CloseStdin ends the shell's input.
func (s *Session) CloseStdin() error { return s.proc.CloseStdin() }

// Resize sets the terminal's size.
func (s *Session) Resize(cols, rows int) error {
	s.touch()
	return s.proc.Resize(cols, rows)
}

// Stdout is the shell's output.
func (s *Session) Stdout() io.Reader { return activity{s, s.proc.Stdout()} }

// Stderr is the shell's error output.
func (s *Session) Stderr() io.Reader { return activity{s, s.proc.Stderr()} }

type activity struct {
	s *Session
	r io.Reader
}

func (a activity) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.s.touch()
	}
	return n, err
}

// Close ends the shell for reason (EndClosed when the user left).
func (s *Session) Close(reason string) {
	s.mu.Lock()
	if s.reason == "" {
		s.reason = reason
	}
	s.mu.Unlock()
	s.proc.Close()
}

// Wait waits for the shell to end, records how, and returns its exit
// status (-1 when it left none) and the reason it ended.
func (s *Session) Wait() (int, string) {
	code, err := s.proc.Wait()
	s.proc.Close()
	s.mu.Lock()
	reason := s.reason
	s.mu.Unlock()
	var recorded *int
	if err == nil {
		recorded = &code
		if reason == "" {
			reason = EndExit
		}
	} else {
		code = -1
		if reason == "" {
			reason = EndClosed
		}
	}
	s.once.Do(func() {
		close(s.ended)
		s.g.record(s.row.ID, recorded, reason)
		s.g.Log.Info("shell ended", "session", s.row.ID, "job", s.job.ID, "reason", reason, "exit_code", code)
	})
	return code, reason
}

// watch ends the session when it idles or its job stops running.
func (s *Session) watch() {
	every := s.g.Cfg.JobCheck
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.ended:
			return
		case <-t.C:
		}
		if s.g.Cfg.Idle > 0 && time.Since(time.Unix(0, s.active.Load())) > s.g.Cfg.Idle {
			s.Close(EndIdle)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		j, err := s.g.Store.JobByID(ctx, s.job.TenantID, s.job.ID)
		cancel()
		if errors.Is(err, storage.ErrNotFound) || (err == nil && j.Status != string(slurm.StatusRunning)) {
			s.Close(EndJobEnded)
			return
		}
		if reason := s.accessEnded(); reason != "" {
			s.Close(reason)
			return
		}
	}
}

// accessEnded is why the session's user may no longer be in the job
// (disabled, deleted, or no longer the tenant's member), or "". It asks
// the database, so a change made through any portal process counts.
func (s *Session) accessEnded() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := s.g.Store.UserByID(ctx, s.row.UserID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && u.DisabledAt != nil) {
		return EndDisabled
	}
	if err != nil {
		return "" // the database is away: asked again at the next check
	}
	if _, err := s.g.Store.Membership(ctx, s.row.UserID, s.job.TenantID); errors.Is(err, storage.ErrNotFound) {
		return EndNotMember
	}
	return ""
}
