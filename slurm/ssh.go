package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"kqi/slurm/login"
)

// SSHConfig says how to reach a login node where sbatch, squeue, scancel,
// sinfo and (if accounting is set up) sacct run as the cluster user, for
// callers that have no login.Dialer to share.
type SSHConfig struct {
	Addr           string        // host:port of the login node's sshd
	User           string        // the cluster user jobs are submitted as
	KeyFile        string        // unencrypted private key for User
	KnownHostsFile string        // must list the login node's host key
	DialTimeout    time.Duration // 15 s when 0
	CommandTimeout time.Duration // per command, when the context allows longer; 60 s when 0
}

// SSH is the Cluster backend for sites without slurmrestd: the Slurm
// commands run on a login node over one SSH connection from a
// login.Dialer, reopened when it breaks. Commands are fixed argument lists; the only varying parts are
// job ids (digits, checked) and the user name, and every argument is
// quoted by shellQuote because sshd hands the command line to the user's
// login shell. The script goes to sbatch on stdin, never in an argument.
type SSH struct {
	login          *login.Dialer
	commandTimeout time.Duration
	// sessions bounds the commands running at once: sshd refuses sessions
	// beyond its MaxSessions (10 by default), and a refused session would
	// look like a broken connection.
	sessions chan struct{}

	mu   sync.Mutex
	conn *ssh.Client // nil until the first command, and after a failure
}

var _ Cluster = (*SSH)(nil)

// NewSSH reads the key and known_hosts files; it connects on first use.
func NewSSH(cfg SSHConfig) (*SSH, error) {
	d, err := login.New(login.Config{
		Addr: cfg.Addr, User: cfg.User, KeyFile: cfg.KeyFile, KnownHostsFile: cfg.KnownHostsFile, Timeout: cfg.DialTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("slurm: %w", err)
	}
	return NewSSHOver(d, cfg.CommandTimeout), nil
}

// NewSSHOver runs the commands as d's user over a connection from d,
// opened on first use. commandTimeout bounds each command when its
// context allows longer; 60 s when 0.
func NewSSHOver(d *login.Dialer, commandTimeout time.Duration) *SSH {
	if commandTimeout <= 0 {
		commandTimeout = 60 * time.Second
	}
	return &SSH{login: d, commandTimeout: commandTimeout, sessions: make(chan struct{}, maxSessions)}
}

// maxSessions is how many commands share the connection at once.
const maxSessions = 8

// Close closes the connection, if one is open.
func (c *SSH) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}

// connect returns the open connection or dials a new one.
func (c *SSH) connect(ctx context.Context) (*ssh.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		return c.conn, nil
	}
	conn, err := c.login.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("slurm: %w", unreachable(err))
	}
	c.conn = conn
	return c.conn, nil
}

// drop closes conn if it is still the current connection, so that the
// next command dials again.
func (c *SSH) drop(conn *ssh.Client) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == conn {
		c.conn.Close()
		c.conn = nil
	}
}

// CommandError is a remote command that exited non-zero.
type CommandError struct {
	Command string // the program, not the whole command line
	Status  int
	Stderr  string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("slurm: %s exited with status %d: %s", e.Command, e.Status, snippet([]byte(e.Stderr)))
}

// run runs argv on the login node with stdin, within the command timeout.
// A command whose session could not be opened (a connection that broke
// since the last command) is tried once more on a new connection; one
// that started is never repeated, since it may have had its effect.
func (c *SSH) run(ctx context.Context, stdin []byte, argv ...string) (stdout, stderr []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.commandTimeout)
	defer cancel()
	line, err := remoteCommand(argv)
	if err != nil {
		return nil, nil, err
	}
	select {
	case c.sessions <- struct{}{}:
		defer func() { <-c.sessions }()
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("slurm: ssh %s: %s: waiting for a session: %w", c.login.Addr(), program(argv), ctx.Err())
	}
	for attempt := 0; ; attempt++ {
		conn, err := c.connect(ctx)
		if err != nil {
			return nil, nil, err
		}
		stdout, stderr, started, err := c.attempt(ctx, conn, line, stdin)
		if err != nil && !started && attempt == 0 && ctx.Err() == nil {
			c.drop(conn)
			continue
		}
		if err != nil && !started {
			// No session, so the command never ran.
			return nil, nil, fmt.Errorf("slurm: ssh %s: %s: %w: %w", c.login.Addr(), program(argv), ErrUnreachable, err)
		}
		var exit *ssh.ExitError
		if errors.As(err, &exit) {
			return stdout, stderr, &CommandError{Command: program(argv), Status: exit.ExitStatus(), Stderr: string(stderr)}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("slurm: ssh %s: %s: %w", c.login.Addr(), program(argv), err)
		}
		return stdout, stderr, nil
	}
}

// attempt runs one command in a new session; started reports whether the
// session was opened, i.e. whether the command may have run.
func (c *SSH) attempt(ctx context.Context, conn *ssh.Client, line string, stdin []byte) (stdout, stderr []byte, started bool, err error) {
	opened := make(chan struct {
		s   *ssh.Session
		err error
	}, 1)
	go func() {
		s, err := conn.NewSession()
		opened <- struct {
			s   *ssh.Session
			err error
		}{s, err}
	}()
	var sess *ssh.Session
	select {
	case o := <-opened:
		if o.err != nil {
			return nil, nil, false, o.err
		}
		sess = o.s
	case <-ctx.Done():
		// A connection that cannot even open a session is dead: closing
		// it also ends the goroutine above.
		c.drop(conn)
		return nil, nil, false, ctx.Err()
	}
	defer sess.Close()
	var out, errOut bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errOut
	if stdin != nil {
		sess.Stdin = bytes.NewReader(stdin)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Run(line) }()
	select {
	case err := <-done:
		return out.Bytes(), errOut.Bytes(), true, err
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGKILL)
		_ = sess.Close()
		// The buffers may still be written to; they are not read.
		return nil, nil, true, ctx.Err()
	}
}

// program names the command argv runs, past `env NAME=value`, for messages.
func program(argv []string) string {
	for _, a := range argv {
		if a != "env" && !strings.Contains(a, "=") {
			return a
		}
	}
	return argv[0]
}

// remoteCommand quotes each argument for the login shell.
func remoteCommand(argv []string) (string, error) {
	words := make([]string, len(argv))
	for i, a := range argv {
		q, err := shellQuote(a)
		if err != nil {
			return "", fmt.Errorf("slurm: remote command argument %d: %w", i, err)
		}
		words[i] = q
	}
	return strings.Join(words, " "), nil
}

// Separators of squeue, sinfo and sacct output: ASCII unit and record
// separators, which no job name, comment or reason contains, so the
// output splits unambiguously.
const (
	unitSep   = "\x1f"
	recordSep = "\x1e"
)

// Submit implements Cluster: `sbatch --parsable` with the script on stdin;
// sbatch reads the options from its #SBATCH lines.
func (c *SSH) Submit(ctx context.Context, script string, spec JobSpec) (string, error) {
	if err := spec.Validate(); err != nil {
		return "", fmt.Errorf("slurm: submit: %w", err)
	}
	out, _, err := c.run(ctx, []byte(script), "sbatch", "--parsable")
	if err != nil {
		return "", fmt.Errorf("slurm: submit %s: %w", spec.Name, err)
	}
	return parseSbatch(out)
}

// parseSbatch reads `sbatch --parsable`: "id" or "id;cluster".
func parseSbatch(out []byte) (string, error) {
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	id, _, _ := strings.Cut(strings.TrimSpace(line), ";")
	if !jobIDPattern.MatchString(id) {
		return "", fmt.Errorf("slurm: sbatch printed no job id: %q", snippet(out))
	}
	return id, nil
}

// squeueFields are read by parseSqueue in this order.
// JobArrayID is the job id, or for an array task "123_4" (with --array,
// each pending task gets its own line).
var squeueFields = []string{"JobArrayID", "Name", "Comment", "State", "Reason", "NodeList", "SubmitTime", "StartTime", "EndTime", "exit_code", "RestartCnt"}

// squeueArgs lists jobs with an epoch time format, since squeue otherwise
// prints local time without a zone.
func squeueArgs(filter string) []string {
	var format strings.Builder
	for i, f := range squeueFields {
		if i > 0 {
			format.WriteString(",")
		}
		sep := unitSep
		if i == len(squeueFields)-1 {
			sep = recordSep
		}
		format.WriteString(f + ":" + sep) // no width: squeue neither pads nor truncates
	}
	return []string{"env", "SLURM_TIME_FORMAT=%s", "squeue", "--noheader", "--array", "--states=all", filter, "--Format=" + format.String()}
}

// squeueBatch is how many job ids one squeue is given.
const squeueBatch = 5000

// Jobs implements Cluster with one squeue, plus one sacct for the jobs
// squeue no longer shows, when the site has accounting.
func (c *SSH) Jobs(ctx context.Context, ids []string) (map[string]JobInfo, error) {
	if err := checkJobIDs(ids); err != nil {
		return nil, err
	}
	out := map[string]JobInfo{}
	// One squeue for up to squeueBatch ids: the list is one argument, and
	// Linux limits an argument to 128 KiB.
	for start := 0; start < len(ids); start += squeueBatch {
		batch := ids[start:min(start+squeueBatch, len(ids))]
		stdout, stderr, err := c.run(ctx, nil, squeueArgs("--jobs="+strings.Join(batch, ","))...)
		if err != nil {
			if strings.Contains(string(stderr), "Invalid job id specified") {
				continue // squeue fails that way when none of the ids is known
			}
			return nil, err
		}
		jobs, err := parseSqueue(stdout)
		if err != nil {
			return nil, err
		}
		for _, id := range batch {
			if j, ok := jobs[id]; ok {
				out[id] = j
			}
		}
	}
	var missing []string
	for _, id := range ids {
		if _, ok := out[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		for id, j := range c.accounting(ctx, missing) {
			out[id] = j
		}
	}
	return out, nil
}

// accounting asks sacct about jobs that left the controller. Accounting
// is optional (DESIGN), so a failure, such as "accounting storage is
// disabled", only means the jobs stay unknown; the portal then decides
// from the job directory.
func (c *SSH) accounting(ctx context.Context, ids []string) map[string]JobInfo {
	out := map[string]JobInfo{}
	for start := 0; start < len(ids); start += squeueBatch {
		batch := ids[start:min(start+squeueBatch, len(ids))]
		stdout, _, err := c.run(ctx, nil, "env", "SLURM_TIME_FORMAT=%s", "sacct", "--noheader", "--parsable2",
			"--delimiter="+unitSep, "--allocations", "--jobs="+strings.Join(batch, ","),
			"--format=JobID,JobName,Comment,State,Reason,NodeList,Submit,Start,End,ExitCode")
		if err != nil {
			return out
		}
		jobs, err := parseSacct(stdout)
		if err != nil {
			return out
		}
		for _, id := range batch {
			if j, ok := jobs[id]; ok {
				out[id] = j
			}
		}
	}
	return out
}

// parseSqueue reads the output of squeueArgs.
func parseSqueue(out []byte) (map[string]JobInfo, error) {
	jobs := map[string]JobInfo{}
	for _, rec := range strings.Split(string(out), recordSep) {
		rec = strings.TrimLeft(rec, "\r\n")
		if strings.TrimSpace(rec) == "" {
			continue
		}
		f := strings.Split(rec, unitSep)
		if len(f) != len(squeueFields) {
			return nil, fmt.Errorf("slurm: squeue: %d fields instead of %d in %q", len(f), len(squeueFields), snippet([]byte(rec)))
		}
		raw, err := cliInt(f[9])
		if err != nil {
			return nil, fmt.Errorf("slurm: squeue: exit code of job %s: %w", f[0], err)
		}
		code, sig := waitStatus(raw)
		restarts, err := cliInt(f[10])
		if err != nil {
			return nil, fmt.Errorf("slurm: squeue: restart count of job %s: %w", f[0], err)
		}
		j := JobInfo{
			ID: strings.TrimSpace(f[0]), Name: f[1], Comment: f[2], State: f[3], Reason: f[4], Node: f[5],
			ExitCode: code, Signal: sig, Restarts: int(restarts),
		}
		for i, t := range []*time.Time{&j.SubmitTime, &j.StartTime, &j.EndTime} {
			sec, err := cliInt(f[6+i])
			if err != nil {
				return nil, fmt.Errorf("slurm: squeue: time of job %s: %w", j.ID, err)
			}
			*t = epoch(sec)
		}
		j.normalize()
		jobs[j.ID] = j
	}
	return jobs, nil
}

// parseSacct reads `sacct --parsable2 --delimiter=\x1f` with the fields of
// accounting. ExitCode is "code:signal"; State may read "CANCELLED by 1000".
func parseSacct(out []byte) (map[string]JobInfo, error) {
	jobs := map[string]JobInfo{}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, unitSep)
		if len(f) != 10 {
			return nil, fmt.Errorf("slurm: sacct: %d fields instead of 10 in %q", len(f), snippet([]byte(line)))
		}
		state, _, _ := strings.Cut(strings.TrimSpace(f[3]), " ")
		j := JobInfo{ID: strings.TrimSpace(f[0]), Name: f[1], Comment: f[2], State: state, Reason: f[4], Node: f[5], FromAccounting: true}
		for i, t := range []*time.Time{&j.SubmitTime, &j.StartTime, &j.EndTime} {
			sec, err := cliInt(f[6+i])
			if err != nil {
				return nil, fmt.Errorf("slurm: sacct: time of job %s: %w", j.ID, err)
			}
			*t = epoch(sec)
		}
		code, sig, _ := strings.Cut(f[9], ":")
		var err error
		if j.ExitCode, err = strconv.Atoi(strings.TrimSpace(code)); err != nil {
			return nil, fmt.Errorf("slurm: sacct: exit code of job %s: %w", j.ID, err)
		}
		if sig != "" {
			if j.Signal, err = strconv.Atoi(strings.TrimSpace(sig)); err != nil {
				return nil, fmt.Errorf("slurm: sacct: signal of job %s: %w", j.ID, err)
			}
		}
		j.normalize()
		jobs[j.ID] = j
	}
	return jobs, nil
}

// cliInt reads a number Slurm's commands print, where "N/A", "Unknown",
// "None" and "" mean none.
func cliInt(s string) (int64, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "N/A", "n/a", "Unknown", "None":
		return 0, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

// FindJobs implements Cluster: Jobs for ids, and one squeue over the
// user's jobs when there are comments to look for.
func (c *SSH) FindJobs(ctx context.Context, ids, comments []string) (map[string]JobInfo, map[string][]JobInfo, error) {
	byID, err := c.Jobs(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	byComment := map[string][]JobInfo{}
	want := wanted(comments)
	if len(want) == 0 {
		return byID, byComment, nil
	}
	stdout, _, err := c.run(ctx, nil, squeueArgs("--user="+c.login.User())...)
	if err != nil {
		return nil, nil, err
	}
	jobs, err := parseSqueue(stdout)
	if err != nil {
		return nil, nil, err
	}
	for _, j := range jobs {
		if want[j.Comment] {
			byComment[j.Comment] = append(byComment[j.Comment], j)
		}
	}
	return byID, byComment, nil
}

// Cancel implements Cluster with `scancel --verbose`: without --verbose,
// scancel says nothing and exits 0 for an unknown job id.
func (c *SSH) Cancel(ctx context.Context, id string) error {
	if err := checkJobIDs([]string{id}); err != nil {
		return err
	}
	_, stderr, err := c.run(ctx, nil, "scancel", "--verbose", id)
	if err != nil {
		return fmt.Errorf("slurm: cancel %s: %w", id, err)
	}
	return scancelResult(id, stderr)
}

// scancelResult reads scancel's verbose messages.
func scancelResult(id string, stderr []byte) error {
	for _, line := range strings.Split(string(stderr), "\n") {
		if !strings.Contains(line, "error:") {
			continue
		}
		switch {
		case strings.Contains(line, "Invalid job id specified"):
			return fmt.Errorf("slurm: cancel %s: %w", id, ErrJobNotFound)
		case strings.Contains(line, "already completing or completed"):
			// Like slurmrestd: a job that has ended needs no cancelling.
		default:
			return fmt.Errorf("slurm: cancel %s: %s", id, strings.TrimSpace(line))
		}
	}
	return nil
}

// sinfoFields are read by parseSinfo in this order; GresUsed has no
// --format letter, hence --Format (size 0: neither padded nor truncated).
// CPUsState is allocated/idle/other/total, StateComplete the base state and
// its flags joined by "+" (idle+drain, down+not_responding).
var sinfoFields = []string{"NodeList", "Partition", "CPUs", "Memory", "Gres", "Time", "GresUsed", "CPUsState", "AllocMem", "StateComplete"}

// Partitions implements Cluster with one `sinfo --Node`, one line per node
// and partition.
func (c *SSH) Partitions(ctx context.Context) ([]Partition, error) {
	fields := make([]string, len(sinfoFields))
	for i, f := range sinfoFields {
		sep := unitSep
		if i == len(sinfoFields)-1 {
			sep = recordSep
		}
		fields[i] = f + ":0" + sep
	}
	stdout, _, err := c.run(ctx, nil, "sinfo", "--noheader", "--Node", "--Format="+strings.Join(fields, ","))
	if err != nil {
		return nil, err
	}
	return parseSinfo(stdout)
}

// parseSinfo reads the output of Partitions' sinfo.
func parseSinfo(out []byte) ([]Partition, error) {
	b := newPartitionBuilder()
	limits := map[string]time.Duration{}
	defaults := map[string]bool{}
	for _, rec := range strings.Split(string(out), recordSep) {
		rec = strings.TrimLeft(rec, "\r\n")
		if strings.TrimSpace(rec) == "" {
			continue
		}
		f := strings.Split(rec, unitSep)
		if len(f) != len(sinfoFields) {
			return nil, fmt.Errorf("slurm: sinfo: %d fields instead of %d in %q", len(f), len(sinfoFields), snippet([]byte(rec)))
		}
		name, isDefault := strings.CutSuffix(strings.TrimSpace(f[1]), "*")
		cpus, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(f[2]), "+"))
		if err != nil {
			return nil, fmt.Errorf("slurm: sinfo: CPUs of node %s: %w", f[0], err)
		}
		mem, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(f[3]), "+"))
		if err != nil {
			return nil, fmt.Errorf("slurm: sinfo: memory of node %s: %w", f[0], err)
		}
		limit, err := parseDuration(f[5])
		if err != nil {
			return nil, err
		}
		cpuState := strings.Split(strings.TrimSpace(f[7]), "/")
		allocCPUs, err := strconv.Atoi(cpuState[0])
		if err != nil || len(cpuState) != 4 {
			return nil, fmt.Errorf("slurm: sinfo: CPU state %q of node %s", f[7], f[0])
		}
		allocMem, err := strconv.Atoi(strings.TrimSpace(f[8]))
		if err != nil {
			return nil, fmt.Errorf("slurm: sinfo: allocated memory of node %s: %w", f[0], err)
		}
		// sinfo marks a node not responding with a trailing "*".
		complete, noAnswer := strings.CutSuffix(strings.TrimSpace(f[9]), "*")
		state := strings.Split(complete, "+")
		b.node(name, strings.TrimSpace(f[0]), cpus, mem, strings.TrimSpace(f[4]), nodeNow{
			Up:        !noAnswer && nodeUp(state[0], state[1:]),
			AllocCPUs: allocCPUs, AllocMemMB: allocMem,
			GRESUsed: strings.TrimSpace(f[6]),
		})
		limits[name] = limit
		defaults[name] = defaults[name] || isDefault
	}
	parts := b.list()
	for i := range parts {
		parts[i].MaxTime = limits[parts[i].Name]
		parts[i].Default = defaults[parts[i].Name]
	}
	return parts, nil
}
