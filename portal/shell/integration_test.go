package shell_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/portal/shell"
	"kqi/slurm"
	"kqi/storage"
)

const pw = "correct horse battery"

// userKey makes an Ed25519 key pair, registers the public half for the
// user, and returns the private key file (0600, for /usr/bin/ssh) and a
// signer (for the Go client).
func userKey(t *testing.T, env *portaltest.Env, userID int64) (string, ssh.Signer) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, _ := ssh.NewPublicKey(pub)
	if _, err := (&shell.Keys{Store: env.Store}).Add(context.Background(), userID, "test", string(ssh.MarshalAuthorizedKey(sshPub))); err != nil {
		t.Fatal(err)
	}
	return file, signer
}

// endpoint is the portal's SSH endpoint as the tests reach it.
type endpoint struct {
	addr, port, knownHosts string
	hostKey                ssh.PublicKey
}

func startEndpoint(t *testing.T, env *portaltest.Env) endpoint {
	t.Helper()
	addr, keyFile := env.StartSSH(t)
	signer, err := shell.HostKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	line := "[127.0.0.1]:" + port + " " + string(ssh.MarshalAuthorizedKey(signer.PublicKey()))
	if err := os.WriteFile(kh, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	return endpoint{addr: addr, port: port, knownHosts: kh, hostKey: signer.PublicKey()}
}

// ssh runs OpenSSH's client against the endpoint and returns its stdout,
// stderr and exit status.
func (e endpoint) ssh(t *testing.T, key, login string, args ...string) (string, string, int) {
	t.Helper()
	argv := append([]string{"-F", "/dev/null", "-p", e.port, "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile=" + e.knownHosts, "-o", "StrictHostKeyChecking=yes", login + "@127.0.0.1"}, args...)
	cmd := exec.Command("/usr/bin/ssh", argv...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, &errOut, nil
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errOut.String(), 0
	case errors.As(err, &exit):
		return out.String(), errOut.String(), exit.ExitCode()
	}
	t.Fatalf("ssh: %v", err)
	return "", "", 0
}

// dial is the Go SSH client, for what needs a pseudo-terminal.
func (e endpoint) dial(t *testing.T, login string, auth ...ssh.AuthMethod) (*ssh.Client, error) {
	t.Helper()
	return ssh.Dial("tcp", e.addr, &ssh.ClientConfig{User: login, Auth: auth, HostKeyCallback: ssh.FixedHostKey(e.hostKey), Timeout: 10 * time.Second})
}

// runningTraining submits a training that writes /kqi/output/x, then waits
// for /kqi/output/stop (at most 3 minutes), and polls until its command
// runs.
func runningTraining(t *testing.T, env *portaltest.Env, tenantID, userID int64) *storage.Job {
	t.Helper()
	ctx := context.Background()
	dsID, err := env.Store.CreateDataset(ctx, storage.NewDataset{TenantID: tenantID, Name: "d" + strconv.FormatInt(time.Now().UnixNano(), 36)})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := env.Jobs.Submit(ctx, jobs.Actor{TenantID: tenantID, UserID: userID}, jobs.Training, jobs.Request{Name: "shell", DatasetID: dsID, CPU: 1, MemoryGB: 1,
		Command: `echo "from the job" >/kqi/output/x; for i in $(seq 900); do [ -e /kqi/output/stop ] && break; sleep 0.2; done`})
	if err != nil || tr.Status != string(slurm.StatusQueued) {
		t.Fatalf("submit: %v %+v", err, tr)
	}
	t.Cleanup(func() { env.Files.Put(context.Background(), tr.JobDir+"/output/stop", strings.NewReader("")) })
	deadline := time.Now().Add(90 * time.Second)
	for {
		env.Jobs.Poll(ctx)
		got, _ := env.Store.JobByID(ctx, tenantID, tr.ID)
		_, statErr := env.Files.Stat(ctx, tr.JobDir+"/"+slurm.ContainerFile)
		if got.Status == string(slurm.StatusRunning) && statErr == nil {
			return got
		}
		if !got.Active() {
			t.Fatalf("the training ended: %s (%s)", got.Status, got.Reason)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the training's container did not start: %s", got.Status)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// readUntil reads from r until the output contains want.
func readUntil(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the shell's output:\n%q", want, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A running training's container over the portal's SSH endpoint, with the
// real OpenSSH client for commands and the Go client for a terminal, on a
// slurmrestd site; then the refusals, the log and the job's end.
func TestShellIntoRunningTraining(t *testing.T) {
	env := portaltest.New(t, portaltest.WithCluster, portaltest.WithShell)
	lab := env.Tenant(t, "lab")
	env.Tenant(t, "other")
	alice := env.User(t, "alice", pw, false, "lab")
	mallory := env.User(t, "mallory", pw, false, "other")
	aliceKey, aliceSigner := userKey(t, env, alice.ID)
	malloryKey, _ := userKey(t, env, mallory.ID)
	ep := startEndpoint(t, env)
	tr := runningTraining(t, env, lab.ID, alice.ID)
	login := fmt.Sprintf("training-%d", tr.ID)
	ctx := context.Background()

	t.Run("one command", func(t *testing.T) {
		out, errOut, code := ep.ssh(t, aliceKey, login, `cat /kqi/output/x; id -u; echo $TRAINING_ID; pwd; exit 3`)
		if code != 3 || out != fmt.Sprintf("from the job\n0\n%d\n/kqi/git\n", tr.ID) {
			t.Errorf("ssh %s: status %d, stdout %q, stderr %q", login, code, out, errOut)
		}
		if strings.Contains(errOut, "srun") {
			t.Errorf("srun's own messages reached the user: %q", errOut)
		}
	})

	t.Run("terminal", func(t *testing.T) {
		c, err := ep.dial(t, login, ssh.PublicKeys(aliceSigner))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		out := &syncBuffer{}
		sess.Stdout, sess.Stderr = out, out
		in, _ := sess.StdinPipe()
		if err := sess.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err != nil {
			t.Fatal(err)
		}
		if err := sess.Shell(); err != nil {
			t.Fatal(err)
		}
		readUntil(t, out, "# ") // root's prompt
		fmt.Fprint(in, "stty size; echo $TERM\n")
		readUntil(t, out, "24 80")
		readUntil(t, out, "xterm")
		if err := sess.WindowChange(40, 132); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond) // srun passes the size on
		fmt.Fprint(in, "stty size\n")
		readUntil(t, out, "40 132")
		fmt.Fprint(in, "exit 7\n")
		var exit *ssh.ExitError
		if err := sess.Wait(); !errors.As(err, &exit) || exit.ExitStatus() != 7 {
			t.Errorf("the shell's end: %v, want exit status 7\n%q", err, out.String())
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for name, tc := range map[string]struct{ key, login string }{
			"another tenant's user":    {malloryKey, login},
			"no such job":              {aliceKey, "training-99999999"},
			"the job is not that kind": {aliceKey, fmt.Sprintf("inference-%d", tr.ID)},
			"no job named":             {aliceKey, "root"},
		} {
			out, errOut, code := ep.ssh(t, tc.key, tc.login, "echo in")
			if code != 1 || out != "" || !strings.Contains(errOut, "there is no running job "+tc.login+" that you can open a shell in") {
				t.Errorf("%s: status %d, stdout %q, stderr %q", name, code, out, errOut)
			}
		}
		// A key nobody registered does not log in; neither does a password.
		stranger := filepath.Join(t.TempDir(), "id")
		exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", stranger).Run()
		if _, errOut, code := ep.ssh(t, stranger, login, "true"); code != 255 || !strings.Contains(errOut, "Permission denied (publickey)") {
			t.Errorf("an unregistered key: status %d, %q", code, errOut)
		}
		if _, err := ep.dial(t, login, ssh.Password(pw)); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
			t.Errorf("a password login: %v", err)
		}
		// A job the portal has not started yet.
		waiting, err := env.Store.CreateJob(ctx, storage.NewJob{TenantID: lab.ID, Kind: "training", Name: "waits", Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
		if err != nil {
			t.Fatal(err)
		}
		if _, errOut, code := ep.ssh(t, aliceKey, fmt.Sprintf("training-%d", waiting.ID), "true"); code != 1 || !strings.Contains(errOut, "The job is not running yet") {
			t.Errorf("a job not yet running: status %d, %q", code, errOut)
		}
	})

	t.Run("log", func(t *testing.T) {
		log, err := env.Store.ShellSessions(ctx, lab.ID, tr.ID, 10)
		if err != nil || len(log) != 2 {
			t.Fatalf("shell log: %d sessions, %v; want the command and the terminal", len(log), err)
		}
		term, cmd := log[0], log[1]
		if cmd.Username != "alice" || cmd.Via != "ssh" || cmd.Interactive || !strings.HasPrefix(cmd.RemoteAddr, "127.0.0.1:") ||
			cmd.EndedAt == nil || cmd.ExitCode == nil || *cmd.ExitCode != 3 || cmd.EndReason != shell.EndExit {
			t.Errorf("the command's record: %+v", cmd)
		}
		if !term.Interactive || term.ExitCode == nil || *term.ExitCode != 7 {
			t.Errorf("the terminal's record: %+v", term)
		}
		b := env.Browser(t)
		b.Login("alice", pw)
		page := b.Get(fmt.Sprintf("/trainings/%d", tr.ID))
		for _, want := range []string{`id="shell-log-table"`, "127.0.0.1:", `id="training-shell"`, "ssh -p 2022 " + login + "@localhost"} {
			if !strings.Contains(page.Body, want) {
				t.Errorf("the job page lacks %q", want)
			}
		}
	})

	t.Run("the job ends", func(t *testing.T) {
		c, err := ep.dial(t, login, ssh.PublicKeys(aliceSigner))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sess, _ := c.NewSession()
		out := &syncBuffer{}
		sess.Stdout, sess.Stderr = out, out
		sess.RequestPty("xterm", 24, 80, ssh.TerminalModes{})
		in, _ := sess.StdinPipe()
		if err := sess.Shell(); err != nil {
			t.Fatal(err)
		}
		readUntil(t, out, "# ")
		defer in.Close()
		if _, err := env.Files.Put(ctx, tr.JobDir+"/output/stop", strings.NewReader("")); err != nil {
			t.Fatal(err)
		}
		ended := make(chan error, 1)
		go func() { ended <- sess.Wait() }()
		deadline := time.After(90 * time.Second)
		for done := false; !done; {
			select {
			case <-ended:
				done = true
			case <-deadline:
				t.Fatal("the shell outlived its job")
			case <-time.After(300 * time.Millisecond):
				env.Jobs.Poll(ctx)
			}
		}
		paused := time.Now().Add(60 * time.Second)
		for got, _ := env.Store.JobByID(ctx, lab.ID, tr.ID); got.Active(); got, _ = env.Store.JobByID(ctx, lab.ID, tr.ID) {
			if time.Now().After(paused) {
				t.Fatal("the training did not end")
			}
			env.Jobs.Poll(ctx)
			time.Sleep(300 * time.Millisecond)
		}
		if _, errOut, code := ep.ssh(t, aliceKey, login, "true"); code != 1 || !strings.Contains(errOut, "The job has ended") {
			t.Errorf("a shell into the ended job: status %d, %q", code, errOut)
		}
	})
}

// A site on the SSH backend (sbatch on the login node, no slurmrestd)
// gets the same shell: the shell never depended on the backend.
func TestShellOnSSHBackend(t *testing.T) {
	env := portaltest.New(t, portaltest.WithCluster, portaltest.WithShell)
	cluster, err := slurm.NewSSH(slurm.SSHConfig{Addr: env.Config.SSHAddr, User: env.Config.SlurmUser,
		KeyFile: env.Config.SSHKeyFile, KnownHostsFile: env.Config.SSHKnownHosts})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	env.Jobs.Cluster = cluster
	lab := env.Tenant(t, "lab")
	alice := env.User(t, "alice", pw, false, "lab")
	key, _ := userKey(t, env, alice.ID)
	ep := startEndpoint(t, env)
	tr := runningTraining(t, env, lab.ID, alice.ID)
	out, errOut, code := ep.ssh(t, key, fmt.Sprintf("training-%d", tr.ID), `cat /kqi/output/x; echo $TRAINING_ID`)
	if code != 0 || out != fmt.Sprintf("from the job\n%d\n", tr.ID) {
		t.Errorf("status %d, stdout %q, stderr %q", code, out, errOut)
	}
}
