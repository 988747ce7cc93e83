package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/term"
)

// shell opens a shell (or runs one command) in a running training over
// the portal's SSH endpoint. It needs no ssh binary and no key of the
// user's: it makes a key for this one session, registers it through the
// API, and removes it again when the session ends.
func (a *app) shell(ctx context.Context, args []string) error {
	c := newCommand(a, "shell", "ID [--ssh HOST:PORT] [-- CMD...]",
		"A shell in running training ID, or CMD run there (its exit code is kqi's).\nThe SSH endpoint is --ssh, else KQI_SSH, else the server's host on port 2022. Its host key is\nremembered on first use in the config directory's known_hosts and checked from then on.")
	addr := c.fs.String("ssh", "", "the portal's SSH endpoint (host:port)")
	pos, id, err := c.parseID(args, 1, -1)
	if err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	if *addr == "" {
		*addr = a.getenv("KQI_SSH")
	}
	if *addr == "" {
		u, err := url.Parse(cl.Server)
		if err != nil {
			return err
		}
		*addr = net.JoinHostPort(u.Hostname(), "2022")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return err
	}
	sshPub, _ := ssh.NewPublicKey(pub)
	key, err := cl.AddSSHKey(ctx, fmt.Sprintf("kqi shell %d %d", id, time.Now().UnixNano()), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))))
	if err != nil {
		return fmt.Errorf("registering a key for the shell: %v", err)
	}
	defer cl.DeleteSSHKey(context.WithoutCancel(ctx), key.ID)
	hostKeys, err := a.knownHosts()
	if err != nil {
		return err
	}
	conf := &ssh.ClientConfig{User: fmt.Sprintf("training-%d", id), Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys, Timeout: 15 * time.Second}
	conn, err := ssh.Dial("tcp", *addr, conf)
	if err != nil {
		return fmt.Errorf("the SSH endpoint %s: %v", *addr, err)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		return err
	}
	defer sess.Close()
	sess.Stdin, sess.Stdout, sess.Stderr = a.stdin, a.stdout, a.stderr
	cmd := strings.Join(pos[1:], " ")
	if in, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(in.Fd())) {
		w, h, _ := term.GetSize(int(in.Fd()))
		if err := sess.RequestPty(orDefault(a.getenv("TERM"), "xterm"), h, w, ssh.TerminalModes{}); err != nil {
			return err
		}
		old, err := term.MakeRaw(int(in.Fd()))
		if err == nil {
			defer term.Restore(int(in.Fd()), old)
		}
	}
	if cmd == "" {
		err = sess.Shell()
	} else {
		err = sess.Start(cmd)
	}
	if err != nil {
		return err
	}
	err = sess.Wait()
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		return exitCode(exit.ExitStatus())
	}
	return err
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// exitCode passes a remote command's exit code through.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit code %d", int(e)) }

// knownHosts checks the endpoint's host key against the config
// directory's known_hosts, adding it on first use.
func (a *app) knownHosts() (ssh.HostKeyCallback, error) {
	dir, err := a.configDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "known_hosts")
	f, err := os.OpenFile(file, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return nil, err
	}
	f.Close()
	check, err := knownhosts.New(file)
	if err != nil {
		return nil, err
	}
	return func(host string, remote net.Addr, key ssh.PublicKey) error {
		err := check(host, remote, key)
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) && len(ke.Want) == 0 {
			f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(host)}, key))
			return err
		}
		if errors.As(err, &ke) {
			return fmt.Errorf("the SSH endpoint's host key changed (see %s): refusing to connect", file)
		}
		return err
	}, nil
}
