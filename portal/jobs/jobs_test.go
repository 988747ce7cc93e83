package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"kqi/portal/data"
	"kqi/portal/jobs"
	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/slurm/slurmfake"
	"kqi/slurm/slurmtest"
	"kqi/storage"
	"kqi/storage/files"
	"kqi/storage/storagetest"
)

// env is a jobs service on a fresh database with one tenant, user and
// dataset, on the dev cluster (newEnv: real slurmrestd or sshd, real
// bubblewrap, a job root on the shared filesystem owned by the cluster
// user) or on the in-memory fake cluster (newFakeEnv).
type env struct {
	svc     *jobs.Service
	store   *storage.Store
	tenant  *storage.Tenant
	user    *storage.User
	dataset int64
}

// clusters are the dev cluster's two backends: the test is an integration
// test (slurmtest.Integration).
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

// newEnv runs jobs on a backend of the dev cluster.
func newEnv(t *testing.T, cluster slurm.Cluster) *env {
	t.Helper()
	dev := slurmtest.Integration(t, "KQI_SHARED_ROOT", "KQI_SLURM_USER")
	root := filepath.Join(dev["KQI_SHARED_ROOT"], "test-jobs-"+strconv.FormatInt(time.Now().UnixNano(), 36))
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
	fs, err := files.NewLocal(root, files.WithOwner(uid, gid))
	if err != nil {
		t.Fatal(err)
	}
	return buildEnv(t, cluster, fs)
}

// newFakeEnv runs jobs on the in-memory fake cluster, which the test
// drives, with the job root in a temporary directory.
func newFakeEnv(t *testing.T) (*env, *slurmfake.Fake) {
	t.Helper()
	fs, err := files.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	fake := slurmfake.NewFake()
	return buildEnv(t, fake, fs), fake
}

func buildEnv(t *testing.T, cluster slurm.Cluster, fs files.FS) *env {
	t.Helper()
	ctx := context.Background()
	st, _ := storagetest.NewStore(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	dsvc := &data.Service{Store: st, Files: fs, Log: log}
	tenant, _ := st.CreateTenant(ctx, "lab")
	usr, _ := st.CreateUser(ctx, storage.NewUser{Username: "alice", PasswordHash: "x"}, storage.TenantRole{TenantID: tenant.ID, Role: storage.RoleUser})

	// One datum with two files, in the training area.
	id, _ := st.NextDataID(ctx)
	for name, content := range map[string]string{"a.txt": "alpha", "b b.csv": "x,y\n1,2\n"} {
		path, _ := data.FilePath(tenant.ID, id, name)
		if _, err := fs.Put(ctx, path, strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
	}
	st.CreateData(ctx, storage.NewData{ID: id, TenantID: tenant.ID, Name: "d", Files: []storage.NewFile{{Name: "a.txt", Size: 5}, {Name: "b b.csv", Size: 8}}})
	ds, err := dsvc.CreateDataset(ctx, data.Actor{TenantID: tenant.ID}, data.DatasetForm{Name: "ds", Entries: []storage.Entry{{DataID: id, Area: "training"}}})
	if err != nil {
		t.Fatal(err)
	}
	svc := &jobs.Service{Store: st, Files: fs, Data: dsvc, Cluster: cluster, Log: log, Cfg: jobs.Config{
		ServerURL: "http://127.0.0.1:8080", Runtime: slurm.Bubblewrap{}, DefaultImage: slurm.HostImage,
		SiteEnv:  []slurm.EnvVar{{Name: "LC_ALL", Value: "C.UTF-8"}, {Name: "LANG", Value: "C.UTF-8"}},
		TokenTTL: time.Hour, SubmitGrace: time.Minute, AllowHostImage: true,
	}}
	return &env{svc: svc, store: st, tenant: tenant, user: usr, dataset: ds}
}

func (e *env) submit(t *testing.T, name, command string, mod ...func(*jobs.Request)) *storage.Job {
	t.Helper()
	req := jobs.Request{Name: name, DatasetID: e.dataset, Command: command, CPU: 1, MemoryGB: 1, Partition: "cpu"}
	for _, m := range mod {
		m(&req)
	}
	tr, err := e.svc.Submit(context.Background(), jobs.Actor{TenantID: e.tenant.ID, UserID: e.user.ID}, jobs.Training, req)
	if err != nil {
		t.Fatalf("submit %s: %v", name, err)
	}
	if tr.Status != string(slurm.StatusQueued) || tr.SlurmJobID == "" {
		t.Fatalf("submit %s: status %s (%s), job %q", name, tr.Status, tr.Reason, tr.SlurmJobID)
	}
	t.Cleanup(func() { e.svc.Cluster.Cancel(context.Background(), tr.SlurmJobID) })
	return tr
}

// waitFor polls until the training reaches a status for which done is true.
func (e *env) waitFor(t *testing.T, id int64, limit time.Duration, done func(*storage.Job) bool) *storage.Job {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if err := e.svc.Poll(context.Background()); err != nil {
			t.Fatalf("poll: %v", err)
		}
		tr, err := e.store.JobByID(context.Background(), e.tenant.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if done(tr) {
			return tr
		}
		if time.Now().After(deadline) {
			t.Fatalf("training %d still %s (%s) after %v", id, tr.Status, tr.Reason, limit)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func final(tr *storage.Job) bool { return !tr.Active() }

func (e *env) file(t *testing.T, tr *storage.Job, name string) string {
	t.Helper()
	f, err := e.svc.Files.Open(context.Background(), tr.JobDir+"/"+name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return string(b)
}

func TestTrainingsOnTheCluster(t *testing.T) {
	for name, cluster := range clusters(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, cluster)

			ok := e.submit(t, "ok-"+name, `cat "/kqi/input/training/"*/a.txt > /kqi/output/seen.txt; echo "id=$TRAINING_ID ds=$DATASET_ID token=${KQI_TOKEN:+set}" >> /kqi/output/seen.txt; ls /kqi/input/training/*/`)
			fail := e.submit(t, "fail-"+name, "echo going down; exit 2")
			long := e.submit(t, "long-"+name, "sleep 300")

			tr := e.waitFor(t, ok.ID, 2*time.Minute, final)
			if tr.Status != string(slurm.StatusCompleted) || tr.ExitCode == nil || *tr.ExitCode != 0 {
				t.Fatalf("ok: %s (%s) exit %v", tr.Status, tr.Reason, tr.ExitCode)
			}
			want := fmt.Sprintf("alphaid=%d ds=%d token=set\n", ok.ID, e.dataset)
			if got := e.file(t, tr, "output/seen.txt"); got != want {
				t.Fatalf("output %q, want %q", got, want)
			}
			if log := e.file(t, tr, "log"); !strings.Contains(log, "b b.csv") {
				t.Fatalf("log lacks the command's output: %s", log)
			}
			if tr.StartedAt == nil || tr.EndedAt == nil || tr.Node == "" {
				t.Errorf("times/node not recorded: %+v %+v %q", tr.StartedAt, tr.EndedAt, tr.Node)
			}

			tr = e.waitFor(t, fail.ID, 2*time.Minute, final)
			if tr.Status != string(slurm.StatusFailed) || tr.ExitCode == nil || *tr.ExitCode != 2 {
				t.Fatalf("fail: %s (%s) exit %v", tr.Status, tr.Reason, tr.ExitCode)
			}

			e.waitFor(t, long.ID, 2*time.Minute, func(tr *storage.Job) bool { return tr.Status == string(slurm.StatusRunning) })
			if err := e.store.RequestStop(context.Background(), e.tenant.ID, long.ID); err != nil {
				t.Fatal(err)
			}
			tr = e.waitFor(t, long.ID, 2*time.Minute, final)
			if tr.Status != string(slurm.StatusKilled) || tr.Reason != slurm.CauseStoppedByUser {
				t.Fatalf("stopped: %s (%s)", tr.Status, tr.Reason)
			}
		})
	}
}

func TestSubmitRefusesBadRequests(t *testing.T) {
	e, _ := newFakeEnv(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		mod   func(*jobs.Request)
		field string
		key   string
	}{
		{"invalid name", func(r *jobs.Request) { r.Name = "Bad_Name" }, "name", "training.invalid_name"},
		{"long name", func(r *jobs.Request) { r.Name = strings.Repeat("a", 31) }, "name", "training.invalid_name"},
		{"unknown dataset", func(r *jobs.Request) { r.DatasetID = 999999 }, "dataset_id", "training.unknown_dataset"},
		{"unknown partition", func(r *jobs.Request) { r.Partition = "nope" }, "partition", "training.unknown_partition"},
		{"too many CPUs", func(r *jobs.Request) { r.CPU = 1000 }, "cpu", "training.cpu_max"},
		{"too many GPUs", func(r *jobs.Request) { r.Partition, r.GPU = "gpu-a100", 9 }, "gpu", "training.gpu_max"},
		{"env name with =", func(r *jobs.Request) { r.Env = []storage.EnvPair{{Name: "A=B", Value: "1"}} }, "spec", "training.invalid_spec"},
		{"env overriding TRAINING_ID", func(r *jobs.Request) { r.Env = []storage.EnvPair{{Name: "TRAINING_ID", Value: "1"}} }, "spec", "training.invalid_spec"},
		{"denied sbatch option", func(r *jobs.Request) { r.SbatchOptions = []string{"--output=/tmp/x"} }, "spec", "training.invalid_spec"},
		{"no command", func(r *jobs.Request) { r.Command = " " }, "command", "training.command_required"},
		{"file repository of another tenant", func(r *jobs.Request) {
			r.GitRepository = "file:///var/lib/kqi-dev/shared/tenants/2/jobs/7/git"
		}, "git_repository", "training.repository_file_refused"},
		{"ssh repository", func(r *jobs.Request) { r.GitRepository = "ssh://localhost/repo.git" }, "git_repository", "training.repository_scheme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := jobs.Request{Name: "fine", DatasetID: e.dataset, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"}
			tc.mod(&req)
			_, err := e.svc.Submit(ctx, jobs.Actor{TenantID: e.tenant.ID, UserID: e.user.ID}, jobs.Training, req)
			inv, ok := refusal.Of(err)
			if !ok {
				t.Fatalf("not refused: %v", err)
			}
			found := false
			for _, fe := range inv.Fields {
				found = found || (fe.Field == tc.field && fe.Key == tc.key)
			}
			if !found {
				t.Fatalf("refusals %+v lack %s/%s", inv.Fields, tc.field, tc.key)
			}
		})
	}
	if list, total, _ := e.store.ListJobs(ctx, e.tenant.ID, storage.JobFilter{Kind: "training"}); total != 0 {
		t.Fatalf("refused requests were recorded: %+v", list)
	}
}

// A submit leaves "is the dataset the tenant's" to the row's own statement
// when nothing else is wrong, and asks it up front when the request is
// refused anyway, so the refusal lists every bad field. Either way another
// tenant's dataset is refused as a missing one, and nothing is left: no
// row, no directory.
func TestSubmitRefusesADatasetNotTheTenants(t *testing.T) {
	e, _ := newFakeEnv(t)
	ctx := context.Background()
	other, err := e.store.CreateTenant(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		tenant int64
		mod    func(*jobs.Request)
		want   []string
	}{
		{"another tenant's", other.ID, func(*jobs.Request) {}, []string{"dataset_id/training.unknown_dataset"}},
		{"missing", e.tenant.ID, func(r *jobs.Request) { r.DatasetID = e.dataset + 1000 }, []string{"dataset_id/training.unknown_dataset"}},
		{"another tenant's, and a bad name", other.ID, func(r *jobs.Request) { r.Name = "Bad" },
			[]string{"name/training.invalid_name", "dataset_id/training.unknown_dataset"}},
		{"missing, and no CPU", e.tenant.ID, func(r *jobs.Request) { r.DatasetID, r.CPU = e.dataset+1000, 0 },
			[]string{"cpu/training.cpu_min", "dataset_id/training.unknown_dataset"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := jobs.Request{Name: "fine", DatasetID: e.dataset, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"}
			tc.mod(&req)
			_, err := e.svc.Submit(ctx, jobs.Actor{TenantID: tc.tenant, UserID: e.user.ID}, jobs.Training, req)
			inv, ok := refusal.Of(err)
			if !ok {
				t.Fatalf("not refused: %v", err)
			}
			var got []string
			for _, fe := range inv.Fields {
				got = append(got, fe.Field+"/"+fe.Key)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("refusals %v, want %v", got, tc.want)
			}
			if err := e.svc.Validate(ctx, tc.tenant, jobs.Training, &req); !reflect.DeepEqual(err, inv) {
				t.Errorf("Validate: %v; Submit refused with %v", err, inv)
			}
			dirs, _ := os.ReadDir(e.svc.Files.LocalPath(fmt.Sprintf("tenants/%d/jobs", tc.tenant)))
			if len(dirs) != 0 {
				t.Errorf("a refused submit left %d job directories", len(dirs))
			}
		})
	}
	for _, tn := range []int64{e.tenant.ID, other.ID} {
		if list, total, _ := e.store.ListJobs(ctx, tn, storage.JobFilter{Kind: "training"}); total != 0 {
			t.Fatalf("refused requests were recorded: %+v", list)
		}
	}
	if d, err := e.store.DatasetByID(ctx, e.tenant.ID, e.dataset); err != nil || d.FrozenAt != nil {
		t.Errorf("the dataset after submits refused in another tenant: %+v, %v; want it not frozen", d, err)
	}
}

// A crash between Slurm accepting the job and the row recording it leaves
// a row in submitting; the poller finds the job by its comment. A row whose
// job never reached Slurm becomes an error after the grace period.
func TestReconcileAfterCrash(t *testing.T) {
	e := newEnv(t, clusters(t)["rest"])
	ctx := context.Background()
	orphan, err := e.store.CreateJob(ctx, storage.NewJob{Kind: "training", TenantID: e.tenant.ID, Name: "orphan", DatasetID: e.dataset,
		Image: slurm.HostImage, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	// What the crashed portal had already done: submit with the comment.
	dir := e.svc.Files.LocalPath(jobs.JobDir(e.tenant.ID, orphan.ID))
	e.svc.Files.MkdirAll(ctx, jobs.JobDir(e.tenant.ID, orphan.ID))
	instance, _ := e.store.InstanceID(ctx)
	spec := slurm.JobSpec{Name: "training-orphan", Comment: jobs.Comment(instance, "training", orphan.ID), Partition: "cpu", CPUs: 1, MemoryGiB: 1,
		Image: slurm.HostImage, Command: "sleep 60", JobDir: dir}
	script, err := slurm.Render(spec, slurm.Bubblewrap{})
	if err != nil {
		t.Fatal(err)
	}
	jobID, err := e.svc.Cluster.Submit(ctx, script, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.svc.Cluster.Cancel(context.Background(), jobID) })

	lost, _ := e.store.CreateJob(ctx, storage.NewJob{Kind: "training", TenantID: e.tenant.ID, Name: "lost", DatasetID: e.dataset,
		Image: slurm.HostImage, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})

	e.svc.Now = func() time.Time { return time.Now().Add(e.svc.Cfg.SubmitGrace + time.Second) } // past the grace period
	if err := e.svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := e.store.JobByID(ctx, e.tenant.ID, orphan.ID)
	if got.SlurmJobID != jobID || got.Status == string(slurm.StatusSubmitting) || got.Status == string(slurm.StatusError) {
		t.Fatalf("orphan: %s job %q (want job %s adopted)", got.Status, got.SlurmJobID, jobID)
	}
	got, _ = e.store.JobByID(ctx, e.tenant.ID, lost.ID)
	if got.Status != string(slurm.StatusError) || got.Reason != slurm.CauseSubmitInterrupted {
		t.Fatalf("lost: %s (%s)", got.Status, got.Reason)
	}
}

// A tenant's quota counts what its active trainings hold: a request that
// would go beyond it is refused with the numbers, and fits again once a
// training has ended.
func TestQuota(t *testing.T) {
	e, _ := newFakeEnv(t)
	ctx := context.Background()
	cpu, gpu := 4, 0
	if err := e.store.SetTenantQuota(ctx, e.tenant.ID, &cpu, nil, &gpu); err != nil {
		t.Fatal(err)
	}
	first := e.submit(t, "first", "sleep 120", func(r *jobs.Request) { r.CPU = 2 })
	_, err := e.svc.Submit(ctx, jobs.Actor{TenantID: e.tenant.ID, UserID: e.user.ID}, jobs.Training,
		jobs.Request{Name: "second", DatasetID: e.dataset, Command: "true", CPU: 3, MemoryGB: 1, Partition: "cpu"})
	inv, ok := refusal.Of(err)
	if !ok || inv.Fields[0].Field != "cpu" || inv.Fields[0].Key != "training.quota_exceeded" || inv.Fields[0].Arg != "2 + 3 > 4" {
		t.Fatalf("over quota: %v", err)
	}
	_, err = e.svc.Submit(ctx, jobs.Actor{TenantID: e.tenant.ID, UserID: e.user.ID}, jobs.Training,
		jobs.Request{Name: "gpu", DatasetID: e.dataset, Command: "true", CPU: 1, MemoryGB: 1, GPU: 1, Partition: "gpu-a100"})
	if inv, ok := refusal.Of(err); !ok || inv.Fields[0].Field != "gpu" || inv.Fields[0].Arg != "0 + 1 > 0" {
		t.Fatalf("GPU over a zero quota: %v", err)
	}
	e.store.RequestStop(ctx, e.tenant.ID, first.ID)
	e.waitFor(t, first.ID, 2*time.Minute, final)
	e.submit(t, "third", "true", func(r *jobs.Request) { r.CPU = 4 })
}

// Without the site's permission the "host" image (the node's own files,
// every tenant's included) is refused.
func TestHostImageNeedsPermission(t *testing.T) {
	e, _ := newFakeEnv(t)
	e.svc.Cfg.AllowHostImage = false
	_, err := e.svc.Submit(context.Background(), jobs.Actor{TenantID: e.tenant.ID, UserID: e.user.ID}, jobs.Training,
		jobs.Request{Name: "host", DatasetID: e.dataset, Image: slurm.HostImage, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu"})
	inv, ok := refusal.Of(err)
	if !ok || inv.Fields[0].Key != "training.host_image_refused" {
		t.Fatalf("host image: %v", err)
	}
}

// A tenant mapped to a Slurm account has its jobs submitted under it, on
// both backends (slurmrestd's account field, sbatch's #SBATCH line).
// An #SBATCH option sbatch honours but slurmrestd v0.0.38 refuses is a
// form error on the REST backend, before anything is recorded, instead of
// a job that fails at submit; the SSH backend sends it.
func TestBackendRefusesOptionsAtValidation(t *testing.T) {
	for name, cluster := range clusters(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, cluster)
			ctx := context.Background()
			req := jobs.Request{Name: "overcommit", DatasetID: e.dataset, Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu",
				SbatchOptions: []string{"--overcommit"}}
			tr, err := e.svc.Submit(ctx, jobs.Actor{TenantID: e.tenant.ID, UserID: e.user.ID}, jobs.Training, req)
			if name == "ssh" {
				if err != nil || tr.Status != string(slurm.StatusQueued) {
					t.Fatalf("ssh: %v, %+v", err, tr)
				}
				e.waitFor(t, tr.ID, 2*time.Minute, final)
				return
			}
			inv, ok := refusal.Of(err)
			if !ok || inv.Fields[0].Field != "sbatch_options" || inv.Fields[0].Key != "training.backend_refuses" {
				t.Fatalf("rest: %v, want a refusal of sbatch_options", err)
			}
			if _, total, _ := e.store.ListJobs(ctx, e.tenant.ID, storage.JobFilter{Kind: "training"}); total != 0 {
				t.Fatal("a refused request was recorded")
			}
		})
	}
}

func TestTenantSlurmAccount(t *testing.T) {
	for name, cluster := range clusters(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, cluster)
			if err := e.store.SetTenantSlurmAccount(context.Background(), e.tenant.ID, "lab-vision"); err != nil {
				t.Fatal(err)
			}
			tr := e.submit(t, "charged", "true")
			out, err := exec.Command("squeue", "-h", "-t", "all", "-j", tr.SlurmJobID, "-o", "%a").CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "lab-vision" {
				t.Fatalf("squeue account of job %s: %q, %v", tr.SlurmJobID, out, err)
			}
			e.waitFor(t, tr.ID, 2*time.Minute, final)
		})
	}
}
