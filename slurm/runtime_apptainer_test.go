package slurm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestApptainerImageURI(t *testing.T) {
	for ref, want := range map[string]string{
		"python:3.12":                           "docker://python:3.12",
		"registry.example.org:5000/ml/torch:2":  "docker://registry.example.org:5000/ml/torch:2",
		"docker://nvcr.io/nvidia/pytorch:24.05": "docker://nvcr.io/nvidia/pytorch:24.05",
		"oras://ghcr.io/org/img:1":              "oras://ghcr.io/org/img:1",
		"library://user/coll/img:tag":           "library://user/coll/img:tag",
		"/shared/images/torch@sha256-abc.sif":   "/shared/images/torch@sha256-abc.sif",
		"ubuntu@sha256:0123abcd":                "docker://ubuntu@sha256:0123abcd",
	} {
		got, err := Apptainer{ImageDir: "/shared/images"}.ImageURI(ref)
		if err != nil || got != want {
			t.Errorf("ImageURI(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	for _, ref := range []string{
		"", "http://example.org/x", "docker://", "docker://a b", "shub://x/y", "/shared/../etc/x.sif",
		"relative/../x", "docker://a//b", "-x", "img;id", "img'x", "/a,b.sif", "docker://x\n",
	} {
		if _, err := (Apptainer{ImageDir: "/shared/images"}).ImageURI(ref); err == nil {
			t.Errorf("ImageURI(%q) accepted", ref)
		}
	}
	// A file image comes only from the site's image store.
	for dir, ref := range map[string]string{
		"":                "/shared/images/torch.sif",
		"/shared/images":  "/etc/x.sif",
		"/shared/images/": "/shared/imagesX/torch.sif",
		"/shared/img":     "/shared/images/torch.sif",
	} {
		if _, err := (Apptainer{ImageDir: dir}).ImageURI(ref); err == nil {
			t.Errorf("ImageDir %q: ImageURI(%q) accepted", dir, ref)
		}
	}
	if got, err := (Apptainer{ImageDir: "/shared/images/"}).ImageURI("/shared/images/a/torch.sif"); err != nil || got != "/shared/images/a/torch.sif" {
		t.Errorf("ImageDir with a trailing slash: %q, %v", got, err)
	}
}

// fakeApptainer is an executable standing in for apptainer: it records its
// arguments and registry credentials into dir, then runs the command the
// way `apptainer exec --cleanenv --env-file` would, with only the env
// file's variables, evaluated by a shell as Apptainer evaluates it.
const fakeApptainer = `#!/bin/bash
out=@OUT@
printf '%s\0' "$@" >"$out/argv"
printf '%s' "${APPTAINER_DOCKER_USERNAME-unset}" >"$out/username"
printf '%s' "${APPTAINER_DOCKER_PASSWORD-unset}" >"$out/password"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	if [[ ${args[i]} == --env-file ]]; then
		env_file=${args[i+1]}
		rest=("${args[@]:i+3}")
		break
	fi
done
printf '%s' "$env_file" >"$out/env_file_path"
cp "$env_file" "$out/env_file"
exec env -i bash -c 'set -a; . "$1"; shift; exec "$@"' fake "$env_file" "${rest[@]}"
`

func TestApptainerRunsTheCommand(t *testing.T) {
	for name, creds := range map[string]bool{"with registry credentials": true, "without": false} {
		t.Run(name, func(t *testing.T) {
			rec := t.TempDir()
			bin := filepath.Join(t.TempDir(), "apptainer")
			writeFile(t, bin, strings.Replace(fakeApptainer, "@OUT@", rec, 1))
			if err := os.Chmod(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			spec := jobFixture(t, "")
			spec.Git = GitSource{}
			spec.GPUs, spec.GPUType = 1, "a100"
			spec.Image = "registry.example.org/ml/torch:2"
			spec.Command = "env -0 >" + rec + "/env_inside; exit 5"
			secrets := Secrets{KQIToken: testKQIToken, ModelRepositoryToken: testRepoTok}
			if creds {
				secrets.RegistryUsername, secrets.RegistryPassword = "robot", "registry-secret-'$x"
			}
			b, err := secrets.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, spec.Path(SecretsFile), string(b))

			script, err := Render(spec, Apptainer{Binary: bin, ExtraArgs: []string{"--drop-caps", "CAP_SYS_RESOURCE"}})
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, spec.Path(ScriptFile), script)
			err = exec.Command("bash", spec.Path(ScriptFile)).Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 {
				t.Fatalf("script: %v, want exit status 5\nlog:\n%s", err, readFile(t, spec.Path(LogFile)))
			}
			if got := readFile(t, spec.Path(ExitCodeFile)); got != "5\n" {
				t.Errorf("exit_code = %q", got)
			}

			argv := strings.Split(strings.TrimSuffix(readFile(t, filepath.Join(rec, "argv")), "\x00"), "\x00")
			joined := strings.Join(argv, " ")
			for _, want := range []string{
				"exec --containall --cleanenv --nv --drop-caps CAP_SYS_RESOURCE ",
				" --bind " + spec.Path(GitDir) + ":/kqi/git ",
				" --bind " + spec.Path(InputDir) + ":/kqi/input:ro ",
				" --bind " + spec.Path(OutputDir) + ":/kqi/output ",
				" --bind " + spec.Path(AttachDir) + ":/kqi/attach:ro ",
				" --bind " + spec.Inputs[0].Source + ":/kqi/parent:ro ",
				" --pwd /kqi/git --env-file ",
				" docker://registry.example.org/ml/torch:2 bash -c ",
			} {
				if !strings.Contains(joined, want) {
					t.Errorf("apptainer arguments lack %q:\n%s", want, joined)
				}
			}
			if argv[len(argv)-1] != spec.Command {
				t.Errorf("last argument = %q, want the command", argv[len(argv)-1])
			}
			for _, secret := range []string{testKQIToken, testRepoTok, "registry-secret"} {
				if strings.Contains(joined, secret) {
					t.Errorf("secret %q is on apptainer's command line", secret)
				}
			}
			wantUser, wantPass := "unset", "unset"
			if creds {
				wantUser, wantPass = "robot", "registry-secret-'$x"
			}
			if got := readFile(t, filepath.Join(rec, "username")); got != wantUser {
				t.Errorf("APPTAINER_DOCKER_USERNAME = %q, want %q", got, wantUser)
			}
			if got := readFile(t, filepath.Join(rec, "password")); got != wantPass {
				t.Errorf("APPTAINER_DOCKER_PASSWORD = %q, want %q", got, wantPass)
			}

			env := map[string]string{}
			for _, kv := range strings.Split(strings.TrimSuffix(readFile(t, filepath.Join(rec, "env_inside")), "\x00"), "\x00") {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			for k, want := range map[string]string{
				"AWKWARD": spec.Env[0].Value, "TRAINING_ID": "42", "KQI_TOKEN": testKQIToken,
				"MODEL_REPOSITORY_TOKEN": testRepoTok, "PYTHONUNBUFFERED": "1",
			} {
				if env[k] != want {
					t.Errorf("container env %s = %q, want %q", k, env[k], want)
				}
			}
			for k := range env {
				if strings.HasPrefix(k, "APPTAINER_DOCKER") {
					t.Errorf("registry credential %s reached the container", k)
				}
			}
			if info, err := os.Stat(filepath.Join(rec, "env_file")); err != nil || info.Size() == 0 {
				t.Errorf("env file not handed to apptainer: %v", err)
			}
			if _, err := os.Stat(readFile(t, filepath.Join(rec, "env_file_path"))); !os.IsNotExist(err) {
				t.Errorf("the env file with the tokens outlived the job: %v", err)
			}
			log := readFile(t, spec.Path(LogFile))
			for _, secret := range []string{testKQIToken, testRepoTok, "registry-secret"} {
				if strings.Contains(log, secret) || strings.Contains(script, secret) {
					t.Errorf("secret %q in the log or the script", secret)
				}
			}
		})
	}
}

func TestApptainerNoGPUNoNV(t *testing.T) {
	fn, err := Apptainer{}.ShellFunction(baseSpec())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fn, "--nv") || strings.Contains(fn, "--fakeroot") {
		t.Errorf("CPU job without fakeroot got --nv or --fakeroot:\n%s", fn)
	}
	spec := baseSpec()
	spec.GPUs = 1
	fn, err = Apptainer{Fakeroot: true}.ShellFunction(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fn, "--containall --cleanenv --nv --fakeroot") {
		t.Errorf("GPU job with fakeroot lacks --nv --fakeroot:\n%s", fn)
	}
	if _, err := (Apptainer{ExtraArgs: []string{"--x\n--y"}}).ShellFunction(spec); err == nil {
		t.Error("an extra argument with a newline was accepted")
	}
}
