package slurm

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// baseSpec is a valid CPU job used as the starting point of most tests.
func baseSpec() JobSpec {
	return JobSpec{
		Name:      "training-mnist-42",
		Comment:   "kqi:training:42",
		Partition: "cpu",
		CPUs:      2,
		MemoryGiB: 4,
		SiteEnv: []EnvVar{
			{"LC_ALL", "C.UTF-8"}, {"LANG", "C.UTF-8"}, {"COLUMNS", "200"},
			{"HTTP_PROXY", "http://proxy.example.org:3128"}, {"http_proxy", "http://proxy.example.org:3128"},
		},
		System: []EnvVar{
			{"TRAINING_ID", "42"}, {"DATASET_ID", "7"}, {"MODEL_REPOSITORY", "https://git.example.org/ml/mnist.git"},
			{"COMMIT_ID", "0123abcd"}, {"KQI_SERVER", "https://kqi.example.org"}, {"ENTRY_POINT", "python train.py"},
		},
		Git:     GitSource{URL: "https://git.example.org/ml/mnist.git", Branch: "main", Commit: "0123abcd"},
		Image:   "host",
		Command: "python train.py",
		JobDir:  "/shared/kqi/jobs/42",
	}
}

// goldenSpecs are the scripts kept in testdata/: each golden file is what a
// reviewer reads to see the script a kind of job gets.
func goldenSpecs() map[string]JobSpec {
	cpu := baseSpec()

	gpu := baseSpec()
	gpu.Name, gpu.Comment = "training-resnet-43", "kqi:training:43"
	gpu.Partition, gpu.Account = "gpu-a100", "tenant-a"
	gpu.GPUs, gpu.GPUType, gpu.MemoryGiB, gpu.CPUs = 2, "a100", 64, 16
	gpu.TimeLimit = 90*time.Minute + 30*time.Second
	gpu.Extra = []string{"--mail-type=END,FAIL", "--mail-user=alice@example.org", "--constraint=intel&ib", "--exclusive"}
	gpu.Image = "registry.example.org/ml/pytorch:2.4-cuda12"
	gpu.Env = []EnvVar{
		{"EPOCHS", "10"},
		{"QUOTED", `it's "quoted" $HOME $(id) ` + "`id`; rm -rf /"},
		{"MULTI", "line one\nline two\ttab"},
		{"UNICODE", "学習率=0.1 ✓"},
		{"EMPTY", ""},
		{"COLUMNS", "80"}, // replaces the site's COLUMNS
	}

	parent := baseSpec()
	parent.Name, parent.Comment = "inference-mnist-44", "kqi:inference:44"
	parent.System = []EnvVar{{"INFERENCE_ID", "44"}, {"PARENT_ID", "42"}, {"DATASET_ID", "7"}}
	parent.JobDir = "/shared/kqi/jobs/44"
	parent.ParentOutput = "/shared/kqi/jobs/42/output"
	parent.Git = GitSource{URL: "https://git.example.org/ml/mnist.git", Username: "kqi-bot"}
	parent.Command = "python infer.py --weights /kqi/parent/model.pt > /kqi/output/value.txt"

	return map[string]JobSpec{"cpu": cpu, "gpu": gpu, "parent": parent}
}

func goldenRuntimes() map[string]Runtime {
	return map[string]Runtime{
		"apptainer": Apptainer{
			Fakeroot:  true,
			ExtraArgs: []string{"--drop-caps", "CAP_SYS_RESOURCE"},
		},
		"bubblewrap": Bubblewrap{ImageRoot: "/shared/kqi/images"},
	}
}

func TestRenderGolden(t *testing.T) {
	for rtName, rt := range goldenRuntimes() {
		for specName, spec := range goldenSpecs() {
			name := specName + "-" + rtName
			t.Run(name, func(t *testing.T) {
				if rtName == "apptainer" && spec.Image == "host" {
					spec.Image = "docker://python:3.12"
				}
				got, err := Render(spec, rt)
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				path := filepath.Join("testdata", name+".golden")
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("script differs from %s (run go test -update and review the diff):\n%s", path, got)
				}
				bashSyntaxCheck(t, got)
			})
		}
	}
}

// bashSyntaxCheck fails the test unless bash -n accepts the script.
func bashSyntaxCheck(t testing.TB, script string) {
	t.Helper()
	cmd := exec.Command("bash", "-n")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
}
