package slurm

// Runtime is a container runtime the batch script can run the user's command
// with. A site picks one in its configuration: Apptainer in production,
// Bubblewrap on machines without Apptainer and in the test suite. Both run
// the same contract: the /kqi binds, /kqi/git as the working directory, and
// exactly the environment the script hands over.
type Runtime interface {
	// ValidateImage reports whether this runtime can run the image
	// reference, so a bad one is a form error rather than a failed job.
	ValidateImage(ref string) error

	// ShellFunction returns the bash definition of kqi_container for the
	// spec. Called as `kqi_container CMD`, it runs `bash -c CMD` in the
	// container and returns its exit status. It may use these variables of
	// the script:
	//   kqi_env                    array of NAME=value, the container's whole environment, later entries win
	//   kqi_tmp                    a private directory on the node, removed when the script exits
	//   kqi_launch                 array: the command line that runs CMD inside the container (see launchInContainer)
	//   kqi_registry_username, kqi_registry_password   registry credentials, possibly empty
	// It must not put secret values on any command line (they would show in
	// ps on the node) nor echo them. A shell into the running job (Shells)
	// calls the same definition again, recorded with those variables, so
	// it must use nothing else of the script but kqi_say.
	ShellFunction(spec JobSpec) (string, error)
}

// RegistryRuntime is a Runtime whose image names depend on the container
// registries the site registered (in the database, so they can change while
// the portal runs): the portal hands it the current list before use.
type RegistryRuntime interface {
	Runtime
	WithRegistries(hosts []string) Runtime
}

// launchInContainer is the command line that runs the user's command inside
// the container: bash -c with the command as an argument, never re-parsed by
// any other shell. stdbuf, when the image has it, makes C programs' stdout
// unbuffered so the log shows output as it happens; PYTHONUNBUFFERED does
// the same for Python.
const launchInContainer = `kqi_launch=(bash -c 'if command -v stdbuf >/dev/null 2>&1; then exec stdbuf -o0 -e0 bash -c "$1"; fi; exec bash -c "$1"' kqi)`

// bind is one directory of the job made visible in the container.
type bind struct {
	src, dst string
	readOnly bool
}

// binds are the /kqi directories every runtime provides.
//
// /kqi/attach is read-only: attachments are the portal's record of what the
// user uploaded on the training's page, listed and deleted there; a job that
// rewrote them would make that record lie. Results belong in /kqi/output.
func binds(s JobSpec) []bind {
	input := s.InputSource
	if input == "" {
		input = s.Path(InputDir)
	}
	b := []bind{
		{s.Path(GitDir), "/kqi/git", false},
		{input, "/kqi/input", true},
		{s.Path(OutputDir), "/kqi/output", false},
		{s.Path(AttachDir), "/kqi/attach", true},
	}
	for _, in := range s.Inputs {
		b = append(b, bind{in.Source, in.Target, true})
	}
	return b
}
