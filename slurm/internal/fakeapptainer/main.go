// Command fakeapptainer stands in for apptainer in slurm's tests, on
// machines without Apptainer. It accepts the global options, `exec` and
// `pull` with the options KQI uses (an unknown option fails as Apptainer's
// flag parser does), builds the container's environment from --env-file
// exactly as package apptainerenv says Apptainer does, and runs the
// command on the host with that environment only, in the bind source of
// --pwd. Each call is appended as one JSON line to
// $KQI_FAKE_APPTAINER_DIR/calls.jsonl, with the registry credentials it was
// given in its own environment; `pull` writes a placeholder SIF after
// $KQI_FAKE_APPTAINER_PULL_DELAY (a Go duration).
//
// --net with --network none runs the command as real Apptainer does for
// an unprivileged user: in a user namespace of its own (the user's uid
// mapped to itself, nothing else) holding a network namespace with only
// the loopback interface, brought up. Any other network is refused with
// real Apptainer's message, as it is for users who are not root (CNI
// networks need root or an administrator's leave).
//
// Not covered: images are not mounted and binds are not made (the command
// sees the host's files), no mount, PID or IPC namespaces, no CNI, no
// GPUs; --nv, --fakeroot and --userns are only recorded.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"kqi/slurm/internal/apptainerenv"
)

// Call is one recorded invocation.
type Call struct {
	Argv           []string `json:"argv"`
	DockerUsername *string  `json:"docker_username"`
	DockerPassword *string  `json:"docker_password"`
	EnvFile        string   `json:"env_file,omitempty"` // its content, for exec
	Env            []string `json:"env,omitempty"`      // the container's environment, for exec
	Warning        string   `json:"warning,omitempty"`
}

var (
	globalBool  = set("-q", "--quiet", "-s", "--silent", "-d", "--debug", "-v", "--verbose", "--nocolor")
	globalValue = set("-c", "--config")
	execBool    = set("-C", "--containall", "-c", "--contain", "-e", "--cleanenv", "--no-eval", "--nv", "--nvccli",
		"--rocm", "--fakeroot", "-f", "--writable-tmpfs", "--unsquash", "--no-home", "--no-init", "--no-umask", "--no-privs", "--compat",
		"-n", "--net", "-u", "--userns")
	execValue = set("-B", "--bind", "--pwd", "--env-file", "--drop-caps", "--add-caps", "-H", "--home", "--env", "--mount", "-o", "--overlay",
		"--network", "--network-args", "--dns", "--hostname")
	pullBool = set("-F", "--force", "--disable-cache")
)

func set(s ...string) map[string]bool {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return m
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == netChild {
		fmt.Fprintln(os.Stderr, "FATAL:  ", inNetNamespace(os.Args[2], os.Args[3:]))
		os.Exit(255)
	}
	code, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "FATAL:  ", err)
	}
	os.Exit(code)
}

func run(args []string) (int, error) {
	call := Call{Argv: args}
	if v, ok := os.LookupEnv("APPTAINER_DOCKER_USERNAME"); ok {
		call.DockerUsername = &v
	}
	if v, ok := os.LookupEnv("APPTAINER_DOCKER_PASSWORD"); ok {
		call.DockerPassword = &v
	}
	defer record(&call)
	i := 0
	for ; i < len(args) && strings.HasPrefix(args[i], "-"); i++ {
		switch {
		case globalBool[args[i]]:
		case globalValue[args[i]]:
			i++
		default:
			return 255, fmt.Errorf("unknown flag: %s", args[i])
		}
	}
	if i >= len(args) {
		return 255, errors.New("no command")
	}
	switch args[i] {
	case "exec":
		return execCmd(&call, args[i+1:])
	case "pull":
		return pull(args[i+1:])
	default:
		return 255, fmt.Errorf("unknown command %q", args[i])
	}
}

func record(c *Call) {
	dir := os.Getenv("KQI_FAKE_APPTAINER_DIR")
	if dir == "" {
		return
	}
	b, _ := json.Marshal(c)
	f, err := os.OpenFile(filepath.Join(dir, "calls.jsonl"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	f.Write(append(b, '\n'))
}

func execCmd(call *Call, args []string) (int, error) {
	opts := map[string][]string{}
	i := 0
	for ; i < len(args) && strings.HasPrefix(args[i], "-"); i++ {
		switch {
		case execBool[args[i]]:
			opts[args[i]] = append(opts[args[i]], "")
		case execValue[args[i]] && i+1 < len(args):
			opts[args[i]] = append(opts[args[i]], args[i+1])
			i++
		default:
			return 255, fmt.Errorf("unknown flag: %s", args[i])
		}
	}
	if len(args)-i < 2 {
		return 255, errors.New("exec needs an image and a command")
	}
	image, command := args[i], args[i+1:]
	if !strings.Contains(image, "://") {
		if _, err := os.Stat(image); err != nil {
			return 255, fmt.Errorf("could not open image %s: %w", image, err)
		}
	}
	dir := ""
	if pwd := opts["--pwd"]; len(pwd) > 0 {
		for _, b := range opts["--bind"] {
			parts := strings.Split(b, ":")
			if len(parts) >= 2 && parts[1] == pwd[0] {
				dir = parts[0]
			}
		}
	}
	fileVars := map[string]string{}
	for _, f := range opts["--env-file"] {
		content, err := os.ReadFile(f)
		if err != nil {
			return 255, fmt.Errorf("could not read environment file %q: %w", f, err)
		}
		call.EnvFile += string(content)
		vars, err := apptainerenv.EvaluateFile(context.Background(), content, os.Environ())
		if err != nil {
			return 255, fmt.Errorf("while processing %s: %w", f, err)
		}
		for k, v := range vars {
			fileVars[k] = v
		}
	}
	call.Env, call.Warning = apptainerenv.Container(context.Background(), fileVars, opts["--no-eval"] != nil, os.Environ(), os.Getenv("HOME"))
	if call.Warning != "" {
		fmt.Fprintln(os.Stderr, "WARNING:", call.Warning)
	}
	network, isolated := "", opts["--net"] != nil || opts["-n"] != nil
	if n := opts["--network"]; len(n) > 0 {
		// Apptainer says "Setting --net (required by --network)".
		network, isolated = n[len(n)-1], true
	}
	if isolated && network != "none" {
		if network == "" {
			network = "bridge"
		}
		fmt.Fprintf(os.Stderr, "ERROR:   Network %s is not permitted for unprivileged users.\n", network)
		return 255, errors.New("container creation failed: network requires root or a suid installation with /etc/subuid --fakeroot; non-root users can only use --network=none unless permitted by the administrator")
	}
	cmd := exec.Command(command[0], command[1:]...)
	for _, kv := range call.Env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			// Look the command up in the container's PATH, as Apptainer does.
			if lp, err := lookPath(command[0], p); err == nil {
				cmd.Path = lp
			}
		}
	}
	if isolated {
		cmd = isolate(cmd)
	}
	cmd.Env, cmd.Dir = call.Env, dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 255, err
	}
	return 0, nil
}

func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

func pull(args []string) (int, error) {
	force := false
	i := 0
	for ; i < len(args) && strings.HasPrefix(args[i], "-"); i++ {
		if !pullBool[args[i]] {
			return 255, fmt.Errorf("unknown flag: %s", args[i])
		}
		force = force || args[i] == "-F" || args[i] == "--force"
	}
	if len(args)-i != 2 {
		return 255, errors.New("pull needs a destination and a URI")
	}
	dest, uri := args[i], args[i+1]
	if !strings.HasPrefix(uri, "docker://") {
		return 255, fmt.Errorf("fake apptainer pulls only docker:// images, not %q", uri)
	}
	if _, err := os.Stat(dest); err == nil && !force {
		return 255, fmt.Errorf("image file already exists: %q - will not overwrite", dest)
	}
	if d, err := time.ParseDuration(os.Getenv("KQI_FAKE_APPTAINER_PULL_DELAY")); err == nil {
		time.Sleep(d)
	}
	if err := os.WriteFile(dest, []byte("fake SIF of "+uri+"\n"), 0o644); err != nil {
		return 255, err
	}
	return 0, nil
}
