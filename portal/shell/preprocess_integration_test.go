package shell_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"kqi/portal/data"
	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/portal/preprocess"
	"kqi/slurm"
	"kqi/storage"
)

// A preprocessing task, one task of a Slurm job array, is reached as
// preprocess-{history entry}: srun is given the task's own job id.
func TestShellIntoPreprocessTask(t *testing.T) {
	env := portaltest.New(t, portaltest.WithCluster, portaltest.WithShell)
	lab := env.Tenant(t, "lab")
	env.Tenant(t, "other")
	alice := env.User(t, "alice", pw, false, "lab")
	mallory := env.User(t, "mallory", pw, false, "other")
	aliceKey, _ := userKey(t, env, alice.ID)
	malloryKey, _ := userKey(t, env, mallory.ID)
	ep := startEndpoint(t, env)
	ctx := context.Background()

	id, err := env.Store.NextDataID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	path, _ := data.FilePath(lab.ID, id, "in.txt")
	if _, err := env.Files.Put(ctx, path, strings.NewReader("input\n")); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.CreateData(ctx, storage.NewData{ID: id, TenantID: lab.ID, Name: "src", CreatedBy: alice.ID,
		Files: []storage.NewFile{{Name: "in.txt", Size: 6}}}); err != nil {
		t.Fatal(err)
	}
	svc := &preprocess.Service{Store: env.Store, Files: env.Files, Jobs: env.Jobs, Log: env.Jobs.Log}
	who := jobs.Actor{TenantID: lab.ID, UserID: alice.ID}
	p, err := svc.Create(ctx, who, preprocess.Fields{Name: "wait", Image: slurm.HostImage, GitRepository: os.Getenv("KQI_DEV_GIT_PUBLIC_REPO"),
		Command: `for i in $(seq 900); do [ -e /kqi/output/stop ] && break; sleep 0.2; done`, CPU: 1, MemoryGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	hs, err := svc.Run(ctx, who, p.ID, preprocess.Run{DataIDs: []int64{id}, CPU: 1, MemoryGB: 1})
	if err != nil || len(hs) != 1 || hs[0].Job == nil {
		t.Fatalf("run: %v %+v", err, hs)
	}
	entry, job := hs[0], hs[0].Job
	t.Cleanup(func() { env.Files.Put(context.Background(), job.JobDir+"/output/stop", strings.NewReader("")) })
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		env.Jobs.Poll(ctx)
		got, _ := env.Store.JobByID(ctx, lab.ID, job.ID)
		_, statErr := env.Files.Stat(ctx, job.JobDir+"/"+slurm.ContainerFile)
		if got.Status == string(slurm.StatusRunning) && statErr == nil {
			break
		}
		if !got.Active() || time.Now().After(deadline) {
			t.Fatalf("the task did not start its container: %s (%s %q)", got.Status, got.Reason, got.ReasonArg)
		}
	}
	login := fmt.Sprintf("preprocess-%d", entry.ID)
	out, errOut, code := ep.ssh(t, aliceKey, login, `cat /kqi/input/*/in.txt; echo $DATA_ID; exit 4`)
	if code != 4 || out != fmt.Sprintf("input\n%d\n", id) {
		t.Errorf("ssh %s: status %d, stdout %q, stderr %q", login, code, out, errOut)
	}
	if _, errOut, code := ep.ssh(t, malloryKey, login, "true"); code == 0 || !strings.Contains(errOut, login) {
		t.Errorf("another tenant's user: status %d, %q", code, errOut)
	}
}
