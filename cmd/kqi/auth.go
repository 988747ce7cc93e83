package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"

	"kqi/portal/client"
)

func (a *app) login(ctx context.Context, args []string) error {
	c := newCommand(a, "login", "[--server URL] [--user U] [--tenant T] [--password-stdin]",
		"Asks for your password (without echo), gets a token and keeps it in a file only you can read.")
	server := c.fs.String("server", "", "the portal's URL (default: KQI_SERVER, else the last one)")
	user := c.fs.String("user", "", "user name (asked for when missing)")
	tenant := c.fs.String("tenant", "", "tenant name or id (default: your default tenant)")
	fromStdin := c.fs.Bool("password-stdin", false, "read the password from standard input")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	s, err := a.loadSession()
	if err != nil {
		return err
	}
	if *server == "" {
		*server = a.getenv("KQI_SERVER")
	}
	if *server == "" {
		*server = s.Server
	}
	if *server == "" {
		return usagef("login: --server URL is needed the first time")
	}
	in := bufio.NewReader(a.stdin)
	if *user == "" {
		fmt.Fprint(a.stderr, "User: ")
		line, err := in.ReadString('\n')
		if err != nil && line == "" {
			return errors.New("no user name given")
		}
		*user = strings.TrimSpace(line)
	}
	pw, err := a.password(in, *fromStdin)
	if err != nil {
		return err
	}
	cl := client.New(*server, "")
	tok, err := cl.Login(ctx, *user, pw, *tenant)
	if err != nil {
		return err
	}
	if s.Token != "" && s.Server == *server {
		// The previous token is not needed any more.
		old := client.New(s.Server, s.Token)
		old.Logout(ctx)
	}
	if err := a.saveSession(session{Server: *server, Token: tok.Token, User: *user, Tenant: tok.Tenant.Name}); err != nil {
		cl.Token = tok.Token
		cl.Logout(ctx)
		return fmt.Errorf("keeping the token: %v", err)
	}
	fmt.Fprintf(a.stderr, "Logged in as %s in tenant %s (token expires %s).\n", *user, tok.Tenant.Name, tok.ExpiresAt)
	return nil
}

// password reads the password: from a terminal without echo, else the
// first line of standard input.
func (a *app) password(in *bufio.Reader, fromStdin bool) (string, error) {
	if f, ok := a.stdin.(*os.File); ok && !fromStdin && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(a.stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		return string(b), err
	}
	line, err := in.ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (a *app) logout(ctx context.Context, args []string) error {
	c := newCommand(a, "logout", "", "Revokes the kept token on the server and forgets it.")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	if err := cl.Logout(ctx); err != nil {
		var e *client.Error
		if !errors.As(err, &e) || e.Status != 401 {
			return fmt.Errorf("the token was not revoked, so it is kept: %v", err)
		}
	}
	if err := a.forgetSession(); err != nil {
		return err
	}
	fmt.Fprintln(a.stderr, "Logged out; the token is revoked.")
	return nil
}

func (a *app) whoami(ctx context.Context, args []string) error {
	c := newCommand(a, "whoami", "[--json]", "Who the token belongs to, and in which tenant.").withJSON()
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	me, err := cl.Me(ctx)
	if err != nil {
		return err
	}
	if *c.json {
		return a.printJSON(me)
	}
	fmt.Fprintf(a.stdout, "%s in tenant %s (%s) at %s\n", me.User.Username, me.Tenant.Name, me.Role, cl.Server)
	return nil
}

func tenantGroup() group {
	return group{summary: "the tenants you belong to; switch to another", verbs: map[string]verb{
		"list":   {summary: "the tenants you belong to", run: (*app).tenantList},
		"switch": {summary: "get a token for another tenant", run: (*app).tenantSwitch},
	}}
}

func (a *app) tenantList(ctx context.Context, args []string) error {
	c := newCommand(a, "tenant list", "[--json]", "The tenants you belong to; * marks the current one.").withJSON()
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	me, err := cl.Me(ctx)
	if err != nil {
		return err
	}
	if *c.json {
		return a.printJSON(me.Tenants)
	}
	t := newTable(a.stdout, "", "ID", "TENANT", "ROLE")
	for _, m := range me.Tenants {
		mark := " "
		if m.Tenant.ID == me.Tenant.ID {
			mark = "*"
		}
		t.row(mark, m.Tenant.ID, m.Tenant.Name, m.Role)
	}
	return t.flush()
}

func (a *app) tenantSwitch(ctx context.Context, args []string) error {
	c := newCommand(a, "tenant switch", "TENANT [--password-stdin]",
		"Logs in again (your password is asked for) with a token for TENANT, and revokes the old one.")
	fromStdin := c.fs.Bool("password-stdin", false, "read the password from standard input")
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	s, err := a.loadSession()
	if err != nil {
		return err
	}
	if s.Server == "" || s.User == "" {
		return errors.New("not logged in: run kqi login first")
	}
	login := []string{"--server", s.Server, "--user", s.User, "--tenant", pos[0]}
	if *fromStdin {
		login = append(login, "--password-stdin")
	}
	return a.login(ctx, login)
}
