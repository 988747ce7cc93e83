package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"kqi/portal/portaltest"
	"kqi/storage"
)

// selectOptions returns the values of the options of the select with id,
// and which one is selected ("" when none is).
func selectOptions(t *testing.T, body, id string) (values []string, selected string) {
	t.Helper()
	m := regexp.MustCompile(`(?s)<select[^>]*id="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</select>`).FindStringSubmatch(body)
	if m == nil {
		return nil, ""
	}
	for _, o := range regexp.MustCompile(`<option value="([^"]*)"( selected)?`).FindAllStringSubmatch(m[1], -1) {
		values = append(values, o[1])
		if o[2] != "" {
			selected = o[1]
		}
	}
	return values, selected
}

func pickQuery(kv ...string) string {
	q := url.Values{"pick": {"1"}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q.Encode()
}

// Every state of the training form's model picker, on a real kqi-devgit:
// no server registered, servers to choose from, a server's repositories,
// an unreachable server, a repository's branches and commits, a branch's
// own commits, an empty repository, a private one without, with and with
// a wrong token, and a copy-run keeping its exact commit.
func TestModelPickerStates(t *testing.T) {
	env := portaltest.New(t)
	dg := portaltest.StartDevGit(t)
	lab := env.Tenant(t, "lab")
	alice := env.User(t, "alice", pw, false, "lab")
	b := env.Browser(t)
	b.Login("alice", pw)
	ctx := context.Background()

	page := func(t *testing.T, path string) string {
		t.Helper()
		p := b.Get(path)
		if p.Status != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, p.Status, p.Body)
		}
		return p.Body
	}

	t.Run("no Git server registered", func(t *testing.T) {
		body := page(t, "/trainings/new")
		if !strings.Contains(body, `id="training-no-servers"`) || !strings.Contains(body, `<input name="git_repository" id="training-repo"`) {
			t.Fatalf("no hint or no text field:\n%s", body)
		}
		if strings.Contains(body, `id="training-server"`) {
			t.Error("a server select with no servers")
		}
	})

	var devgitID int64
	for name, u := range map[string]string{"devgit": dg.URL, "down": "http://127.0.0.1:1"} {
		g, err := env.Store.CreateGitServer(ctx, name, u)
		if err != nil {
			t.Fatal(err)
		}
		if name == "devgit" {
			devgitID = g.ID
		}
	}

	t.Run("servers to choose from", func(t *testing.T) {
		body := page(t, "/trainings/new")
		if opts, sel := selectOptions(t, body, "training-server"); fmt.Sprint(opts) != "[ devgit down]" || sel != "" {
			t.Fatalf("servers %q selected %q", opts, sel)
		}
	})

	t.Run("a server lists its repositories, typed values kept", func(t *testing.T) {
		body := page(t, "/trainings/new?"+pickQuery("git_server", "devgit", "name", "kept-name", "command", "python3 train.py"))
		opts, _ := selectOptions(t, body, "training-repo")
		if fmt.Sprint(opts) != "[ devgit/public/empty.git devgit/public/mnist.git]" {
			t.Fatalf("repositories without a token: %q", opts)
		}
		if !strings.Contains(body, `value="kept-name"`) || !strings.Contains(body, "python3 train.py") {
			t.Error("what was typed is gone")
		}
		if _, sel := selectOptions(t, body, "training-server"); sel != "devgit" {
			t.Errorf("server selected %q", sel)
		}
	})

	t.Run("server unreachable", func(t *testing.T) {
		body := page(t, "/trainings/new?"+pickQuery("git_server", "down"))
		if !regexp.MustCompile(`id="training-repos-problem">The Git server cannot be reached`).MatchString(body) {
			t.Fatalf("no problem shown:\n%s", body)
		}
		if !strings.Contains(body, `<input name="git_repository" id="training-repo"`) {
			t.Error("no text field to type the repository into")
		}
	})

	t.Run("branches and commits of the sample repository", func(t *testing.T) {
		body := page(t, "/trainings/new?"+pickQuery("git_server", "devgit", "git_repository", "devgit/public/mnist.git"))
		if opts, _ := selectOptions(t, body, "training-branch"); fmt.Sprint(opts) != "[ dev main]" {
			t.Fatalf("branches %q", opts)
		}
		if opts, _ := selectOptions(t, body, "training-commit"); fmt.Sprint(opts) != fmt.Sprintf("[ %s %s]", dg.Newest, dg.Sample) {
			t.Fatalf("commits %q, want newest %s then sample %s", opts, dg.Newest, dg.Sample)
		}
		for _, want := range []string{dg.Newest[:10] + " A newer commit on main — KQI test", dg.Sample[:10] + " Sample model:"} {
			if !strings.Contains(body, want) {
				t.Errorf("commit list lacks %q", want)
			}
		}
	})

	t.Run("a branch's own commits", func(t *testing.T) {
		body := page(t, "/trainings/new?"+pickQuery("git_server", "devgit", "git_repository", "devgit/public/mnist.git", "git_branch", "dev"))
		if opts, _ := selectOptions(t, body, "training-commit"); fmt.Sprint(opts) != fmt.Sprintf("[ %s]", dg.Sample) {
			t.Fatalf("commits of dev %q", opts)
		}
		if _, sel := selectOptions(t, body, "training-branch"); sel != "dev" {
			t.Errorf("branch selected %q", sel)
		}
	})

	t.Run("repository with no branches", func(t *testing.T) {
		body := page(t, "/trainings/new?"+pickQuery("git_server", "devgit", "git_repository", "devgit/public/empty.git"))
		if !strings.Contains(body, `id="training-refs-problem">The repository has no branches yet`) {
			t.Fatalf("no problem shown:\n%s", body)
		}
		if !strings.Contains(body, `<input name="git_branch" id="training-branch"`) {
			t.Error("no branch field to type into")
		}
	})

	t.Run("token missing", func(t *testing.T) {
		body := page(t, "/trainings/new?"+pickQuery("git_server", "devgit", "git_repository", "devgit/private/mnist.git"))
		if !strings.Contains(body, `id="training-refs-problem">The Git server wants a token and you have none for it. <a href="/settings">`) {
			t.Fatalf("no problem shown:\n%s", body)
		}
		// Kept as typed, though the server does not list it without a token.
		if _, sel := selectOptions(t, body, "training-repo"); sel != "devgit/private/mnist.git" {
			t.Errorf("repository selected %q", sel)
		}
	})

	setToken := func(t *testing.T, token string) {
		t.Helper()
		p := b.Submit("/settings", "/settings/credentials", url.Values{"kind": {"git"}, "server_id": {fmt.Sprint(devgitID)}, "username": {"oauth2"}, "token": {token}})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("store token: %d", p.Status)
		}
	}

	t.Run("wrong token", func(t *testing.T) {
		setToken(t, "not-the-token")
		body := page(t, "/trainings/new?"+pickQuery("git_server", "devgit"))
		if !strings.Contains(body, `id="training-repos-problem">The Git server refused your token.`) {
			t.Fatalf("no problem shown:\n%s", body)
		}
	})

	t.Run("with the token", func(t *testing.T) {
		setToken(t, dg.Token)
		body := page(t, "/trainings/new?"+pickQuery("git_server", "devgit", "git_repository", "devgit/private/mnist.git"))
		if opts, _ := selectOptions(t, body, "training-repo"); fmt.Sprint(opts) != "[ devgit/private/mnist.git devgit/public/empty.git devgit/public/mnist.git]" {
			t.Fatalf("repositories with the token: %q", opts)
		}
		if opts, _ := selectOptions(t, body, "training-commit"); len(opts) != 3 {
			t.Fatalf("commits of the private repository: %q", opts)
		}
	})

	t.Run("copy-run keeps the exact commit", func(t *testing.T) {
		dsID, err := env.Store.CreateDataset(ctx, storage.NewDataset{TenantID: lab.ID, Name: "d"})
		if err != nil {
			t.Fatal(err)
		}
		j, err := env.Store.CreateJob(ctx, storage.NewJob{Kind: "training", TenantID: lab.ID, CreatedBy: alice.ID, Name: "old", DatasetID: dsID,
			Image: "local/python:3", GitRepository: "devgit/public/mnist.git", GitBranch: "main", GitCommit: dg.Sample, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
		if err != nil {
			t.Fatal(err)
		}
		body := page(t, fmt.Sprintf("/trainings/new?from=%d", j.ID))
		if _, sel := selectOptions(t, body, "training-server"); sel != "devgit" {
			t.Errorf("server of the copied repository: %q", sel)
		}
		if _, sel := selectOptions(t, body, "training-commit"); sel != dg.Sample {
			t.Errorf("commit selected %q, want %s", sel, dg.Sample)
		}
		if _, sel := selectOptions(t, body, "training-branch"); sel != "main" {
			t.Errorf("branch selected %q", sel)
		}
	})

	t.Run("the same parts on the other forms", func(t *testing.T) {
		q := pickQuery("git_server", "devgit", "git_repository", "devgit/public/mnist.git")
		for id, path := range map[string]string{"inference": "/inferences/new?" + q, "preprocess": "/preprocessing/new?" + q} {
			body := page(t, path)
			if opts, _ := selectOptions(t, body, id+"-commit"); len(opts) != 3 {
				t.Errorf("%s: commits %q", path, opts)
			}
			if !strings.Contains(body, `id="`+id+`-site-images"`) && !strings.Contains(body, `id="`+id+`-image"`) {
				t.Errorf("%s: no image field", path)
			}
		}
	})

	t.Run("in Japanese, no English of the pickers left", func(t *testing.T) {
		if p := b.Submit("/settings", "/settings/language", url.Values{"lang": {"ja"}}); p.Status != http.StatusSeeOther {
			t.Fatalf("set language: %d", p.Status)
		}
		defer b.Submit("/settings", "/settings/language", url.Values{"lang": {"en"}})
		body := page(t, "/trainings/new?"+pickQuery("git_server", "devgit", "git_repository", "devgit/public/empty.git", "partition", "gpu-a100", "gpu", "9"))
		for _, want := range []string{"Git サーバー", "リポジトリを一覧", "このリポジトリにはまだブランチがありません", "1 ノードあたり", "テナントのクォータの残り", "決して開始できない"} {
			if !strings.Contains(body, want) {
				t.Errorf("lacks %q", want)
			}
		}
		for _, english := range []string{"List repositories", "no branches yet", "one node has", "quota leaves", "could never start"} {
			if strings.Contains(body, english) {
				t.Errorf("English left: %q", english)
			}
		}
	})

	t.Run("the fragment kqi.js swaps in", func(t *testing.T) {
		body := page(t, "/pickers/model?id=training&action=/trainings/new&git_server=devgit&git_repository=devgit/public/mnist.git")
		if !strings.HasPrefix(strings.TrimSpace(body), `<div class="picker" id="training-model"`) || !strings.Contains(body, `formaction="/trainings/new"`) {
			t.Fatalf("fragment:\n%s", body)
		}
		if opts, _ := selectOptions(t, body, "training-commit"); len(opts) != 3 {
			t.Errorf("commits %q", opts)
		}
		if p := b.Get("/pickers/model?id=nope"); p.Status != http.StatusNotFound {
			t.Errorf("unknown form id: %d", p.Status)
		}
		body = page(t, "/pickers/model?id=training&action=//evil.example/x")
		if strings.Contains(body, "evil.example") {
			t.Error("an action off the site was kept")
		}
	})
}

// The resource step shows the chosen partition's node and the quota left,
// refuses (as the submit would) a request larger than any node, and warns
// when GPUs are busy or the quota is used.
func TestResourcePickerStates(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	two := 2
	if err := env.Store.SetTenantQuota(context.Background(), lab.ID, nil, nil, &two); err != nil {
		t.Fatal(err)
	}
	env.Fake.SetFreeGPUs("gpu-a100", 1)
	b := env.Browser(t)
	b.Login("alice", pw)
	for _, tc := range []struct {
		name, query string
		want, not   []string
	}{
		{"fits", pickQuery("partition", "gpu-a100", "cpu", "2", "memory_gb", "4", "gpu", "1"),
			[]string{"Partition gpu-a100: one node has 8 CPU cores, 16 GiB of memory and 4 GPUs.", "1 GPUs are free right now.",
				"CPU cores: no limit", "GPUs: 2 of 2"}, []string{`class="warning"`, `class="error" data-field`}},
		{"default partition", pickQuery("cpu", "1", "memory_gb", "1", "gpu", "0"),
			[]string{"Partition cpu: one node has 8 CPU cores, 16 GiB of memory and 0 GPUs."}, []string{"free right now"}},
		{"larger than any node", pickQuery("partition", "gpu-a100", "cpu", "64", "memory_gb", "1", "gpu", "0"),
			[]string{`id="training-never-cpu">A node of this partition has 8 CPU cores at most. Such a job could never start`}, nil},
		{"GPUs busy", pickQuery("partition", "gpu-a100", "cpu", "1", "memory_gb", "1", "gpu", "2"),
			[]string{`id="training-wait-gpu">Only 1 GPUs are free right now: the job will wait`}, []string{`id="training-wait-gpu">The tenant`}},
		{"beyond the quota", pickQuery("partition", "gpu-a100", "cpu", "1", "memory_gb", "1", "gpu", "3"),
			[]string{`id="training-wait-gpu">The tenant&#39;s quota leaves 2 GPUs now`, `id="training-wait-gpu-2">Only 1 GPUs are free`}, nil},
		{"unknown partition", pickQuery("partition", "nope", "cpu", "1"),
			[]string{`id="training-resources-problem">There is no partition “nope” on the cluster.`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.Get("/trainings/new?" + tc.query)
			if p.Status != http.StatusOK {
				t.Fatalf("status %d", p.Status)
			}
			for _, w := range tc.want {
				if !strings.Contains(p.Body, w) {
					t.Errorf("lacks %q", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(p.Body, n) {
					t.Errorf("has %q", n)
				}
			}
			if t.Failed() {
				i := strings.Index(p.Body, `id="training-resources"`)
				t.Logf("resources part:\n%s", p.Body[max(0, i):min(len(p.Body), i+1500)])
			}
		})
	}
	if p := b.Get("/preprocessing/run?" + pickQuery("partition", "gpu-a100", "cpu", "64")); !strings.Contains(p.Body, `id="run-never-cpu"`) {
		t.Errorf("run form: no resource hints")
	}
	p := b.Get("/pickers/resources?id=training&partition=gpu-a100&cpu=1&memory_gb=1&gpu=2")
	if !strings.HasPrefix(strings.TrimSpace(p.Body), `<div class="pick-resources" id="training-resources"`) || !strings.Contains(p.Body, "Only 1 GPUs") {
		t.Errorf("fragment: %d\n%s", p.Status, p.Body)
	}
}

// The resource step warns, on the field concerned and in both languages,
// when a request fits a node of the partition but no node has that many
// CPUs or that much memory free now; a partition whose nodes are all down
// or drained has nothing free (the cluster's answer read by slurm's
// Partitions; here the fake's).
func TestResourcePickerFreeNow(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "lab")
	env.User(t, "alice", pw, false, "lab")
	b := env.Browser(t)
	b.Login("alice", pw)
	ask := pickQuery("partition", "cpu", "cpu", "4", "memory_gb", "8", "gpu", "0")
	for _, tc := range []struct {
		name            string
		freeCPUs, memMB int
		want, not       []string
	}{
		{"fits now", 8, 16384, []string{"Right now one node has at most 8 CPU cores and 16 GiB of memory free."},
			[]string{`class="warning"`, `class="error" data-field`}},
		{"CPUs busy", 2, 16384, []string{`id="training-wait-cpu">No node has more than 2 CPU cores free right now: the job will wait`},
			[]string{`id="training-wait-memory_gb"`, `class="error" data-field`}},
		{"memory busy", 8, 6000, []string{`id="training-wait-memory_gb">No node has more than 5 GiB of memory free right now: the job will wait`},
			[]string{`id="training-wait-cpu"`, `class="error" data-field`}},
		{"nodes down", 0, 0, []string{"at most 0 CPU cores and 0 GiB", `id="training-wait-cpu">No node has more than 0 CPU cores`,
			`id="training-wait-memory_gb">No node has more than 0 GiB`}, []string{`class="error" data-field`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env.Fake.SetFree("cpu", tc.freeCPUs, tc.memMB)
			env.Clock.Advance(time.Minute) // past the partitions' cache
			p := b.Get("/trainings/new?" + ask)
			if p.Status != http.StatusOK {
				t.Fatalf("status %d", p.Status)
			}
			for _, w := range tc.want {
				if !strings.Contains(p.Body, w) {
					t.Errorf("lacks %q", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(p.Body, n) {
					t.Errorf("has %q", n)
				}
			}
			if t.Failed() {
				i := strings.Index(p.Body, `id="training-resources"`)
				t.Logf("resources part:\n%s", p.Body[max(0, i):min(len(p.Body), i+1500)])
			}
		})
	}
	// A request larger than any node is refused, not told to wait.
	p := b.Get("/trainings/new?" + pickQuery("partition", "cpu", "cpu", "9", "memory_gb", "17"))
	if !strings.Contains(p.Body, `id="training-never-cpu"`) || !strings.Contains(p.Body, `id="training-never-memory_gb"`) || strings.Contains(p.Body, `class="warning"`) {
		t.Errorf("larger than any node, nodes down: not refused alone")
	}
	b.Submit("/settings", "/settings/language", url.Values{"lang": {"ja"}})
	p = b.Get("/trainings/new?" + ask)
	for _, w := range []string{"いま 1 ノードで空いているのは最大 CPU 0 コア、メモリ 0 GiB です。",
		`id="training-wait-cpu">いま CPU が 0 コアより多く空いているノードはありません。`,
		`id="training-wait-memory_gb">いまメモリが 0 GiB より多く空いているノードはありません。`} {
		if !strings.Contains(p.Body, w) {
			t.Errorf("ja: lacks %q", w)
		}
	}
}
