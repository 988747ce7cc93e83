package gitref_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"kqi/portal/accounts"
	"kqi/portal/gitref"
)

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// Recent answers a branch it has seen from memory within its TTL (so a
// burst of submits asks the repository once), asks again for a branch it
// has not seen (just pushed) and after the TTL, and remembers no failure.
func TestRecentRemembersOnlyWhatItSaw(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "model.git")
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	r := &gitref.Recent{TTL: time.Minute, Now: func() time.Time { return now }}
	acc := accounts.GitAccess{URL: repo}

	if _, err := r.Has(ctx, acc, "main"); err == nil {
		t.Fatal("a repository that does not exist answered")
	}
	git(t, dir, "init", "-q", "-b", "main", "work")
	work := filepath.Join(dir, "work")
	git(t, work, "commit", "-q", "--allow-empty", "-m", "first")
	git(t, dir, "clone", "-q", "--bare", "work", "model.git")
	git(t, repo, "config", "receive.denyDeleteCurrent", "ignore")
	if has, err := r.Has(ctx, acc, "main"); err != nil || !has {
		t.Fatalf("after the repository was made: %v, %v (a failure was remembered?)", has, err)
	}

	// main goes away: within the TTL it is still answered from memory.
	git(t, work, "push", "-q", repo, "main:dev", ":main")
	if has, err := r.Has(ctx, acc, "main"); err != nil || !has {
		t.Fatalf("within the TTL: %v, %v; want the remembered yes", has, err)
	}
	// dev was not in the remembered answer: asked again.
	if has, err := r.Has(ctx, acc, "dev"); err != nil || !has {
		t.Fatalf("a branch pushed since: %v, %v", has, err)
	}
	if has, err := r.Has(ctx, acc, "main"); err != nil || has {
		t.Fatalf("after asking again: %v, %v; want no", has, err)
	}
	git(t, work, "push", "-q", repo, "main:main")
	if has, _ := r.Has(ctx, acc, "main"); !has {
		t.Fatal("a branch pushed back is not seen")
	}
	git(t, work, "push", "-q", repo, ":main")
	now = now.Add(2 * time.Minute)
	if has, err := r.Has(ctx, acc, "main"); err != nil || has {
		t.Fatalf("after the TTL: %v, %v; want the repository's no", has, err)
	}
	// Another credential is another entry.
	if has, _ := r.Has(ctx, accounts.GitAccess{URL: repo, Token: "other"}, "dev"); !has {
		t.Fatal("another credential: dev not seen")
	}
}
