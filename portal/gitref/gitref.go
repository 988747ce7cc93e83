// Package gitref asks a Git server what a repository holds (`git
// ls-remote`), with the user's token, so a submit naming an unreachable
// repository or a branch that does not exist is refused on the form
// instead of failing in the job; and, where the server speaks Gitea's API
// (gitea.go), which repositories it has and their recent commits, for the
// forms' pickers.
package gitref

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"kqi/portal/accounts"
)

// Lister runs git ls-remote on the portal host.
type Lister struct {
	Timeout time.Duration // 0: 15 s
}

// credentialHelper hands git the username and token from the environment
// when it asks (never on a command line, in a URL or in a file).
const credentialHelper = `!f() { test "$1" = get && test -n "$KQI_GIT_TOKEN" && printf 'username=%s\npassword=%s\n' "${KQI_GIT_USERNAME:-kqi}" "$KQI_GIT_TOKEN"; }; f`

// Refs returns the repository's branches and tags ("refs/heads/main" →
// commit).
func (l Lister) Refs(ctx context.Context, acc accounts.GitAccess) (map[string]string, error) {
	timeout := l.Timeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "ls-remote", "--heads", "--tags", "--", acc.URL)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/nonexistent", "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=credential.helper",
		"GIT_CONFIG_VALUE_0=" + credentialHelper, "KQI_GIT_USERNAME=" + acc.Username, "KQI_GIT_TOKEN=" + acc.Token}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("no answer within %s", timeout)
		}
		msg := stderr.String()
		if strings.Contains(msg, "could not read Username") || strings.Contains(msg, "Authentication failed") {
			return nil, ErrAuth
		}
		return nil, errors.New(firstLine(msg, acc.Token))
	}
	refs := map[string]string{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		sha, ref, ok := strings.Cut(sc.Text(), "\t")
		if ok {
			refs[ref] = sha
		}
	}
	return refs, nil
}

// firstLine is git's complaint, short and without the token.
func firstLine(s, token string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if token != "" {
		s = strings.ReplaceAll(s, token, "***")
	}
	if len(s) > 200 {
		s = s[:200]
	}
	if s == "" {
		s = "git ls-remote failed"
	}
	return s
}
