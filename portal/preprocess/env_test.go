package preprocess_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"kqi/portal/data"
	"kqi/portal/jobs"
	"kqi/portal/preprocess"
	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/slurm/slurmfake"
	"kqi/slurm/slurmtest"
	"kqi/storage"
	"kqi/storage/files"
	"kqi/storage/storagetest"
)

// env is preprocessing on a fresh database with one tenant and user, on a
// backend of the dev cluster (newEnv: real Slurm, bubblewrap, the dev
// image, a model repository on the shared filesystem) or on the fake
// cluster (newFakeEnv).
type env struct {
	svc    *preprocess.Service
	jobs   *jobs.Service
	store  *storage.Store
	db     *sql.DB
	fs     files.FS
	root   string // the file store's root, as the nodes see it
	repo   string // file:// URL of the model repository
	who    preprocess.Actor
	tenant int64
}

func clusters(t *testing.T) map[string]slurm.Cluster {
	t.Helper()
	dev := slurmtest.Integration(t, "KQI_SLURM_JWT_KEY_FILE", "KQI_SLURM_REST_URL", "KQI_SLURM_USER",
		"KQI_SSH_ADDR", "KQI_SSH_USER", "KQI_SSH_KEY_FILE", "KQI_SSH_KNOWN_HOSTS")
	signer, err := slurm.NewTokenSigner(dev["KQI_SLURM_JWT_KEY_FILE"], 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	rest, err := slurm.NewREST(slurm.RESTConfig{URL: dev["KQI_SLURM_REST_URL"], User: dev["KQI_SLURM_USER"], Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	ssh, err := slurm.NewSSH(slurm.SSHConfig{Addr: dev["KQI_SSH_ADDR"], User: dev["KQI_SSH_USER"],
		KeyFile: dev["KQI_SSH_KEY_FILE"], KnownHostsFile: dev["KQI_SSH_KNOWN_HOSTS"]})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ssh.Close() })
	return map[string]slurm.Cluster{"rest": rest, "ssh": ssh}
}

// newEnv runs on a backend of the dev cluster, with the dev image.
func newEnv(t *testing.T, cluster slurm.Cluster) *env {
	t.Helper()
	dev := slurmtest.Integration(t, "KQI_SHARED_ROOT", "KQI_SLURM_USER", "KQI_DEV_IMAGE_ROOT")
	root := filepath.Join(dev["KQI_SHARED_ROOT"], "test-preprocess-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	u, err := user.Lookup(dev["KQI_SLURM_USER"])
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	os.Chown(root, uid, gid)
	store := filepath.Join(root, "store")
	if err := os.Mkdir(store, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chown(store, uid, gid)
	fs, err := files.NewLocal(store, files.WithOwner(uid, gid))
	if err != nil {
		t.Fatal(err)
	}
	e := build(t, cluster, fs, slurm.Bubblewrap{ImageRoot: dev["KQI_DEV_IMAGE_ROOT"]})
	e.root = store
	e.repo = modelRepo(t, filepath.Join(root, "git"), uid, gid)
	e.jobs.Cfg.GitFileRoot = filepath.Join(root, "git")
	return e
}

// newFakeEnv runs on the in-memory fake cluster, which the test drives.
func newFakeEnv(t *testing.T) (*env, *slurmfake.Fake) {
	t.Helper()
	dir := t.TempDir()
	fs, err := files.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	fake := slurmfake.NewFake()
	e := build(t, fake, fs, slurm.Bubblewrap{})
	e.root = dir
	e.repo = "https://git.example.org/lab/pre.git"
	return e, fake
}

func build(t *testing.T, cluster slurm.Cluster, fs files.FS, rt slurm.Runtime) *env {
	t.Helper()
	ctx := context.Background()
	st, url := storagetest.NewStore(t)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	tenant, _ := st.CreateTenant(ctx, "lab")
	usr, _ := st.CreateUser(ctx, storage.NewUser{Username: "alice", PasswordHash: "x"}, storage.TenantRole{TenantID: tenant.ID, Role: storage.RoleUser})
	js := &jobs.Service{Store: st, Files: fs, Data: &data.Service{Store: st, Files: fs, Log: log}, Cluster: cluster, Log: log, Cfg: jobs.Config{
		ServerURL: "http://127.0.0.1:8080", Runtime: rt, DefaultImage: slurm.HostImage,
		SiteEnv:  []slurm.EnvVar{{Name: "LC_ALL", Value: "C.UTF-8"}, {Name: "LANG", Value: "C.UTF-8"}},
		TokenTTL: time.Hour, SubmitGrace: time.Minute, AllowHostImage: true,
	}}
	return &env{svc: &preprocess.Service{Store: st, Files: fs, Jobs: js, Log: log}, jobs: js, store: st, db: db, fs: fs,
		who: preprocess.Actor{TenantID: tenant.ID, UserID: usr.ID}, tenant: tenant.ID}
}

// modelRepo makes a repository with the seed-style PIL script, owned by
// the cluster user (the clone runs as that user).
func modelRepo(t *testing.T, dir string, uid, gid int) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "resize.py"), []byte(resizeScript), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "resize.py"},
		{"-c", "user.name=KQI Test", "-c", "user.email=test@example.org", "commit", "-q", "-m", "resize"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			os.Lchown(p, uid, gid)
		}
		return err
	})
	return "file://" + dir
}

// resizeScript is a preprocess written against KAMONOHASHI's contract, as
// the seed describes it: every PNG below /kqi/input, resized with PIL,
// each into its own /kqi/output/{DATA_NAME}_{title}/ directory.
const resizeScript = `import glob
import os

from PIL import Image

data_name = os.environ["DATA_NAME"]
for path in glob.glob("/kqi/input/**/*.png", recursive=True):
    title = os.path.splitext(os.path.basename(path))[0]
    out_dir = os.path.join("/kqi/output", data_name + "_" + title)
    os.makedirs(out_dir, exist_ok=True)
    with Image.open(path) as img:
        img.resize((8, 8)).save(os.path.join(out_dir, title + "_8x8.png"))
    print("resized", path, flush=True)
`

// datum registers a datum of the tenant with the given files.
func (e *env) datum(t *testing.T, name string, content map[string]string) int64 {
	t.Helper()
	ctx := context.Background()
	id, err := e.store.NextDataID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var list []storage.NewFile
	for n, c := range content {
		p, _ := data.FilePath(e.tenant, id, n)
		if _, err := e.fs.Put(ctx, p, strings.NewReader(c)); err != nil {
			t.Fatal(err)
		}
		list = append(list, storage.NewFile{Name: n, Size: int64(len(c))})
	}
	if err := e.store.CreateData(ctx, storage.NewData{ID: id, TenantID: e.tenant, Name: name, Files: list}); err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) define(t *testing.T, f preprocess.Fields) *storage.Preprocess {
	t.Helper()
	p, err := e.svc.Create(context.Background(), e.who, f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) run(t *testing.T, id int64, dataIDs ...int64) []*storage.History {
	t.Helper()
	hs, err := e.svc.Run(context.Background(), e.who, id, preprocess.Run{DataIDs: dataIDs, CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatalf("run %d on %v: %v", id, dataIDs, err)
	}
	return hs
}

// await polls until the entries of preprocess id for the data have ended.
func (e *env) await(t *testing.T, id int64, limit time.Duration, dataIDs ...int64) []*storage.History {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if err := e.jobs.Poll(context.Background()); err != nil {
			t.Fatalf("poll: %v", err)
		}
		var out []*storage.History
		for _, d := range dataIDs {
			h, err := e.svc.History(context.Background(), e.tenant, id, d)
			if err != nil {
				t.Fatal(err)
			}
			if h.Job == nil || !h.Job.Active() {
				out = append(out, h)
			}
		}
		if len(out) == len(dataIDs) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("entries of preprocess %d not ended after %v", id, limit)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// read returns a file of a datum.
func (e *env) read(t *testing.T, dataID int64, name string) string {
	t.Helper()
	p, err := data.FilePath(e.tenant, dataID, name)
	if err != nil {
		t.Fatal(err)
	}
	f, err := e.fs.Open(context.Background(), p)
	if err != nil {
		t.Fatalf("datum %d file %s: %v", dataID, name, err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return string(b)
}

func (e *env) log(t *testing.T, h *storage.History) string {
	t.Helper()
	if h.Job == nil {
		return ""
	}
	f, err := e.jobs.OpenJobFile(context.Background(), h.Job, slurm.LogFile)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return string(b)
}

func refusedWith(t *testing.T, err error, key string) {
	t.Helper()
	r, ok := refusal.Of(err)
	if !ok {
		t.Fatalf("error %v, want refusal %s", err, key)
	}
	if got, _ := r.Key(); got != key {
		t.Fatalf("refusal %s (%v), want %s", got, err, key)
	}
}
