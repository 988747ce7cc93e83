package cli

import (
	"reflect"
	"strings"
	"testing"

	"kqi/portal/config"
	"kqi/slurm"
)

// A site's Apptainer settings reach the runtime jobs use.
func TestRuntimeOfApptainerSettings(t *testing.T) {
	env := map[string]string{
		"KQI_DATABASE_URL":          "postgres://x@localhost/kqi",
		"KQI_APPTAINER_BINARY":      "/opt/apptainer/1.4.5/bin/apptainer",
		"KQI_APPTAINER_GLOBAL_ARGS": "--quiet -c /etc/apptainer/site.conf",
		"KQI_APPTAINER_ARGS":        "--drop-caps CAP_SYS_RESOURCE --unsquash",
		"KQI_APPTAINER_NVCCLI":      "true",
		"KQI_APPTAINER_FAKEROOT":    "yes",
		"KQI_IMAGE_ROOT":            "/shared/images",
	}
	cfg, err := config.Load("t", nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	got := runtimeOf(cfg)
	want := slurm.Apptainer{
		Binary: "/opt/apptainer/1.4.5/bin/apptainer", GlobalArgs: []string{"--quiet", "-c", "/etc/apptainer/site.conf"},
		ExtraArgs: []string{"--drop-caps", "CAP_SYS_RESOURCE", "--unsquash"}, Fakeroot: true, NvCCLI: true,
		ImageDir: "/shared/images", PullDir: "/shared/images/pulled", Network: slurm.NetworkHost,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("runtime %+v, want %+v", got, want)
	}
	env["KQI_APPTAINER_PULL_DIR"] = "/scratch/sif"
	if cfg, err = config.Load("t", nil, func(k string) string { return env[k] }); err != nil || runtimeOf(cfg).(slurm.Apptainer).PullDir != "/scratch/sif" {
		t.Errorf("KQI_APPTAINER_PULL_DIR not used: %v", err)
	}
	env["KQI_JOB_NETWORK"] = "isolated"
	if cfg, err = config.Load("t", nil, func(k string) string { return env[k] }); err != nil || runtimeOf(cfg).(slurm.Apptainer).Network != slurm.NetworkIsolated {
		t.Errorf("KQI_JOB_NETWORK not used: %v", err)
	}
	for key, bad := range map[string]string{"KQI_APPTAINER_BINARY": "bin/apptainer", "KQI_APPTAINER_PULL_DIR": "sif", "KQI_IMAGE_ROOT": "images"} {
		env2 := map[string]string{"KQI_DATABASE_URL": "x", key: bad}
		if _, err := config.Load("t", nil, func(k string) string { return env2[k] }); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%q: %v, want a refusal", key, bad, err)
		}
	}
}
