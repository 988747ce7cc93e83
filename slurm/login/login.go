// Package login reaches the cluster's login node over SSH. It is the one
// place that loads the private key, checks the host key against
// known_hosts, dials with timeouts and keeps connections alive; the SSH
// Slurm backend, the SFTP file store and the shell gateway all get their
// connections from one Dialer. It imports neither slurm nor storage, so
// both can use it (storage through an interface of its own).
package login

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Config says how to reach the login node.
type Config struct {
	Addr           string // host:port of the login node's sshd
	User           string // the account to log in as
	KeyFile        string // unencrypted private key for User
	KnownHostsFile string // must list Addr's host key
	// Timeout bounds dialling and the SSH handshake, and how long a
	// keepalive may wait for its reply. 15 s when 0.
	Timeout time.Duration
	// KeepAlive is how often each connection asks the server for a sign
	// of life. 15 s when 0.
	KeepAlive time.Duration
}

// Dialer opens connections to the login node. It holds no connection of
// its own: each caller owns what Dial returns, so the Slurm commands, the
// file transfers and the shells each keep their own connection, and
// reconnect on their own schedule, without counting against each other's
// sshd MaxSessions. It is safe for concurrent use.
type Dialer struct {
	addr      string
	client    *ssh.ClientConfig
	timeout   time.Duration
	keepAlive time.Duration
}

// New reads the key and known_hosts files once. A login node missing from
// known_hosts is refused here, at start-up, rather than at the first
// connection.
func New(cfg Config) (*Dialer, error) {
	if cfg.Addr == "" || cfg.User == "" || cfg.KeyFile == "" || cfg.KnownHostsFile == "" {
		return nil, errors.New("login: needs an address, a user, a key file and a known_hosts file")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 15 * time.Second
	}
	pem, err := os.ReadFile(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("login: ssh key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, fmt.Errorf("login: ssh key %s: %w", cfg.KeyFile, err)
	}
	hostKey, err := knownhosts.New(cfg.KnownHostsFile)
	if err != nil {
		return nil, fmt.Errorf("login: known_hosts: %w", err)
	}
	algos, err := knownAlgorithms(hostKey, cfg.Addr)
	if err != nil {
		return nil, err
	}
	return &Dialer{
		addr: cfg.Addr,
		client: &ssh.ClientConfig{
			User:              cfg.User,
			Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback:   hostKey,
			HostKeyAlgorithms: algos,
			Timeout:           cfg.Timeout,
		},
		timeout:   cfg.Timeout,
		keepAlive: cfg.KeepAlive,
	}, nil
}

// Addr is the login node's host:port, for messages.
func (d *Dialer) Addr() string { return d.addr }

// User is the account the Dialer logs in as.
func (d *Dialer) User() string { return d.client.User }

// knownAlgorithms returns the host key algorithms known_hosts has keys of
// for addr. Offering only those makes the server present a key that can be
// checked, instead of one of another type that would be refused as a
// mismatch. It asks the callback about a key that cannot match and reads
// the known keys from the error.
func knownAlgorithms(check ssh.HostKeyCallback, addr string) ([]string, error) {
	probe, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		return nil, err
	}
	var keyErr *knownhosts.KeyError
	if err := check(addr, &net.TCPAddr{IP: net.IPv4zero}, probe); !errors.As(err, &keyErr) || len(keyErr.Want) == 0 {
		return nil, fmt.Errorf("login: %s is not in the known_hosts file", addr)
	}
	var algos []string
	for _, k := range keyErr.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			algos = append(algos, t)
		}
	}
	return algos, nil
}

// Dial opens a new connection, within ctx and the timeout (the handshake
// included, which ssh.Dial's Timeout does not cover). A keepalive runs on
// it until it closes and closes it when the server stops answering, so
// that a half-open connection fails its callers instead of hanging them;
// Wait on the client tells when it has died. The caller closes it.
func (d *Dialer) Dial(ctx context.Context) (*ssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, fmt.Errorf("login: dial %s: %w", d.addr, err)
	}
	// The end of ctx (the timeout included) ends the handshake.
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	sc, chans, reqs, err := ssh.NewClientConn(nc, d.addr, d.client)
	if !stop() {
		// ctx ended during the handshake: that is why it failed, or a
		// connection that did open has its deadline in the past.
		if err == nil {
			sc.Close()
		}
		err = ctx.Err()
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("login: ssh handshake with %s: %w", d.addr, err)
	}
	c := ssh.NewClient(sc, chans, reqs)
	go keepAlive(c, d.keepAlive, d.timeout)
	return c, nil
}

// keepAlive sends keepalive@openssh.com every interval and closes c when
// no reply (OpenSSH's is a refusal, which is as good) comes within wait.
// A dead TCP connection is otherwise noticed only when the kernel gives
// up, many minutes later.
func keepAlive(c *ssh.Client, interval, wait time.Duration) {
	dead := make(chan struct{})
	go func() {
		c.Wait()
		close(dead)
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-dead:
			return
		case <-t.C:
		}
		replied := make(chan error, 1)
		go func() {
			_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
			replied <- err
		}()
		timer := time.NewTimer(wait)
		select {
		case err := <-replied:
			timer.Stop()
			if err != nil {
				c.Close()
				return
			}
		case <-dead:
			timer.Stop()
			return
		case <-timer.C:
			c.Close()
			return
		}
	}
}
