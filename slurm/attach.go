package slurm

import (
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/ssh"

	"kqi/slurm/login"
)

// ContainerFile is the job-directory entry that, while the user's command
// runs, names a private file on the job's node recording how the job's
// container is started: the runtime's kqi_container and the variables it
// reads, secrets among them. A shell into the job (Shells) starts the same
// container from it: same image, same /kqi binds, same environment, same
// user. The record lives in the job's private temporary directory, so it
// goes when the job does and the secrets never touch the shared
// filesystem; ContainerFile is removed with it.
const ContainerFile = "container"

// recordContainer is the script's function that writes the record once
// the image is known to start. `declare` prints each value quoted so that
// bash reads it back byte for byte.
const recordContainer = `
# kqi_record_container keeps what a shell into this job needs to start the
# same container (slurm.Shells): the function above and its variables.
kqi_record_container() {
	{
		declare -p kqi_image kqi_env kqi_registry_username kqi_registry_password
		declare -f kqi_container
	} >"$kqi_tmp/container" && chmod 600 -- "$kqi_tmp/container" &&
		kqi_record "$kqi_job/container" "$kqi_tmp/container" ||
		kqi_say "could not record the container for shells into the job"
}
`

// attachProgram runs on the job's node inside `srun --overlap`, as the job
// runs: it reads the container record and starts the container with the
// user's command, or an interactive bash, instead of the job's command.
// Arguments: the job directory, the terminal type ("" = no terminal), the
// command ("" = interactive). Exit status 125 means there is no container
// to enter (the job is still cloning, or its command has ended).
const attachProgram = `set -u
kqi_job=$1 kqi_term=$2 kqi_cmd=$3
kqi_say() { printf 'kqi: %s\n' "$*" >&2; }
kqi_recipe=
if [[ -s $kqi_job/container ]]; then kqi_recipe=$(<"$kqi_job/container"); fi
if [[ -z $kqi_recipe || ! -f $kqi_recipe || ! -O $kqi_recipe ]]; then
	kqi_say "the job's container is not running: the job is still preparing it, or its command has ended"
	exit 125
fi
. "$kqi_recipe"
kqi_tmp=$(mktemp -d "${TMPDIR:-/tmp}/kqi-shell.XXXXXXXX") || exit 125
trap 'rm -rf -- "$kqi_tmp"' EXIT
kqi_launch=(bash -c)
if [[ -n $kqi_term ]]; then
	# A terminal tells its own size; the job's fixed COLUMNS would lie.
	kqi_keep=()
	for kqi_kv in "${kqi_env[@]}"; do
		case $kqi_kv in COLUMNS=* | LINES=*) ;; *) kqi_keep+=("$kqi_kv") ;; esac
	done
	kqi_env=(${kqi_keep[@]+"${kqi_keep[@]}"} "TERM=$kqi_term")
fi
if [[ -z $kqi_cmd ]]; then kqi_cmd='exec bash -i'; fi
kqi_container "$kqi_cmd"
`

// loginProgram runs srun on the login node for the job $1 and drops
// srun's own "task 0: Exited with exit code N" line: the exit status
// already says it. srun takes only a numeric job id, so an array task
// ("123_4") is first looked up as its own job id.
const loginProgram = `id=$1
shift
if [[ $id == *_* ]]; then
	id=$(squeue -h -j "$id" -o %A 2>/dev/null) && [[ $id =~ ^[0-9]+$ ]] || {
		echo "kqi: the job is not running" >&2
		exit 125
	}
fi
rc=0
"$1" --jobid="$id" "${@:2}" 2> >(exec sed -u '/^srun: error: [^ ]*: task 0: Exited with exit code [0-9]*$/d' >&2) || rc=$?
wait $! 2>/dev/null
exit "$rc"`

// ShellRequest says which running job a shell enters and how.
type ShellRequest struct {
	JobID  string // the Slurm job id
	JobDir string // the job directory as the nodes see it
	// Command runs in the container (as `bash -c Command`), like ssh's
	// remote command; "" starts an interactive bash.
	Command string
	// Term is the terminal type of a shell with a pseudo-terminal, such
	// as "xterm-256color"; "" runs without one, over pipes, as ssh does
	// without -t.
	Term       string
	Cols, Rows int
}

// ShellArgs is the command the login node runs for req: srun joins the
// job's allocation (--overlap: beside the running step, on its node and
// resources) and runs attachProgram there.
func ShellArgs(req ShellRequest) ([]string, error) {
	if err := checkJobIDs([]string{req.JobID}); err != nil {
		return nil, err
	}
	if err := checkPath("job directory", req.JobDir); err != nil {
		return nil, err
	}
	if req.Term != "" {
		if err := checkCharset("terminal type", req.Term, slurmWord, 64, slurmWordChars); err != nil {
			return nil, err
		}
	}
	srun := []string{"srun", "--overlap", "--quiet", "--job-name=kqi-shell"}
	if req.Term != "" {
		srun = append(srun, "--pty")
	}
	argv := append([]string{"bash", "-c", loginProgram, "kqi-shell", req.JobID}, srun...)
	return append(argv, "bash", "-c", attachProgram, "kqi-shell", req.JobDir, req.Term, req.Command), nil
}

// Shells opens shells into running jobs over the login node: the one way
// in for both Slurm backends, since slurmrestd cannot attach to a job.
type Shells struct {
	Login *login.Dialer
}

// Shell is one shell into a job: a session on its own connection to the
// login node. With a terminal, stderr is merged into stdout.
type Shell struct {
	client *ssh.Client
	sess   *ssh.Session
	stdin  io.WriteCloser
	stdout io.Reader
	stderr io.Reader
}

// Open starts a shell for req. The caller reads Stdout and Stderr, then
// calls Wait, and Close in any case.
func (s Shells) Open(ctx context.Context, req ShellRequest) (*Shell, error) {
	argv, err := ShellArgs(req)
	if err != nil {
		return nil, fmt.Errorf("slurm: shell: %w", err)
	}
	line, err := remoteCommand(argv)
	if err != nil {
		return nil, fmt.Errorf("slurm: shell: %w", err)
	}
	client, err := s.Login.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("slurm: shell: %w", err)
	}
	sh := &Shell{client: client}
	if err := sh.start(req, line); err != nil {
		client.Close()
		return nil, fmt.Errorf("slurm: shell into job %s: %w", req.JobID, err)
	}
	return sh, nil
}

func (sh *Shell) start(req ShellRequest, line string) error {
	sess, err := sh.client.NewSession()
	if err != nil {
		return err
	}
	sh.sess = sess
	if req.Term != "" {
		// srun --pty puts this terminal into raw mode and passes its size
		// on; the modes are srun's business.
		if err := sess.RequestPty(req.Term, max(req.Rows, 1), max(req.Cols, 1), ssh.TerminalModes{}); err != nil {
			return err
		}
	}
	if sh.stdin, err = sess.StdinPipe(); err != nil {
		return err
	}
	if sh.stdout, err = sess.StdoutPipe(); err != nil {
		return err
	}
	if sh.stderr, err = sess.StderrPipe(); err != nil {
		return err
	}
	return sess.Start(line)
}

// Write sends input to the shell.
func (sh *Shell) Write(p []byte) (int, error) { return sh.stdin.Write(p) }

// CloseStdin ends the shell's input, as ssh does at the end of its stdin.
func (sh *Shell) CloseStdin() error { return sh.stdin.Close() }

// Stdout is the shell's output (and its errors, with a terminal).
func (sh *Shell) Stdout() io.Reader { return sh.stdout }

// Stderr is the shell's error output; empty with a terminal.
func (sh *Shell) Stderr() io.Reader { return sh.stderr }

// Resize tells the shell's terminal its new size.
func (sh *Shell) Resize(cols, rows int) error {
	return sh.sess.WindowChange(max(rows, 1), max(cols, 1))
}

// Wait waits for the shell to end and returns its exit status: the
// command's, or 125 when the job had no container to enter. A shell that
// ended without one (its connection lost) is an error.
func (sh *Shell) Wait() (int, error) {
	err := sh.sess.Wait()
	var exit *ssh.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		if n, ok := signalNumbers[exit.Signal()]; ok {
			return 128 + n, nil
		}
		return exit.ExitStatus(), nil
	default:
		return -1, fmt.Errorf("slurm: shell: %w", err)
	}
}

// Close ends the shell: srun is told to hang up (which it passes to the
// step) and the connection is closed.
func (sh *Shell) Close() error {
	_ = sh.sess.Signal(ssh.SIGHUP)
	sh.sess.Close()
	return sh.client.Close()
}

// signalNumbers are the Linux numbers of the signals a shell is commonly
// ended by, for an exit status like a shell's 128+n.
var signalNumbers = map[string]int{"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "PIPE": 13, "TERM": 15}
