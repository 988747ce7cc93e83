package slurm

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Apptainer runs the command with `apptainer exec --containall --cleanenv`,
// the production default: nothing from the host leaks in but the /kqi
// binds and the environment the script writes to an --env-file (a private
// temporary file on the node, removed when the script exits, so secrets are
// never on a command line). GPUs are passed with --nv; Slurm's cgroups decide
// which ones the job sees.
//
// Image references: "docker://…", "oras://…" and "library://…" are used as
// given; an absolute path is a SIF file or sandbox directory inside the
// site's image store (ImageDir), never elsewhere on the node; anything
// else, such as "registry.example.org/team/name:tag", is a Docker image and
// gets "docker://" in front. Registry credentials from the secrets file are set
// as APPTAINER_DOCKER_USERNAME/PASSWORD for the apptainer command only:
// Apptainer sends them to every registry it talks to.
type Apptainer struct {
	Binary string // the apptainer executable; "" = apptainer from the job's PATH
	// Fakeroot runs the command as root in the container. It needs
	// /etc/subuid and /etc/subgid entries for every submitting user, so it
	// is a site option.
	Fakeroot bool
	// ExtraArgs are site-wide options for `apptainer exec`, such as
	// "--drop-caps", "CAP_SYS_RESOURCE" on hosts where root lacks that
	// capability.
	ExtraArgs []string
	// ImageDir is the site's store of pre-pulled SIF files and sandboxes.
	// An image given as an absolute path must lie inside it, so a user
	// cannot run a container from any directory the job account can read;
	// "" allows no absolute paths.
	ImageDir string
}

var (
	imageURI  = regexp.MustCompile(`^(docker|oras|library)://[A-Za-z0-9][A-Za-z0-9._/:@+-]*$`)
	imageName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$`)
)

// ImageURI returns the reference apptainer exec is given for ref.
func (a Apptainer) ImageURI(ref string) (string, error) {
	switch {
	case ref == "":
		return "", errors.New("image is required")
	case strings.HasPrefix(ref, "/"):
		if err := checkPath("image path", ref); err != nil {
			return "", err
		}
		if a.ImageDir == "" {
			return "", fmt.Errorf("image %q: this site has no image store for files; name a registry image such as docker://registry/name:tag", ref)
		}
		// checkPath refused ".." parts, so a prefix is containment.
		if !strings.HasPrefix(ref, strings.TrimSuffix(a.ImageDir, "/")+"/") {
			return "", fmt.Errorf("image %q: a file image must be inside the site's image store %s", ref, a.ImageDir)
		}
		return ref, nil
	case strings.Contains(ref, "://"):
		if !imageURI.MatchString(ref) {
			return "", fmt.Errorf("image %q must be docker://, oras:// or library:// followed by letters, digits and . _ / : @ + -", ref)
		}
		_, name, _ := strings.Cut(ref, "://")
		if err := checkImageParts(ref, name); err != nil {
			return "", err
		}
		return ref, nil
	case imageName.MatchString(ref):
		if err := checkImageParts(ref, ref); err != nil {
			return "", err
		}
		return "docker://" + ref, nil
	default:
		return "", fmt.Errorf("image %q may contain only letters, digits and . _ / : @ + -", ref)
	}
}

// checkImageParts rejects empty, "." and ".." path parts, which no registry
// names and which would only confuse where an image comes from.
func checkImageParts(ref, name string) error {
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("image %q has an empty, . or .. part", ref)
		}
	}
	return nil
}

// ValidateImage implements Runtime.
func (a Apptainer) ValidateImage(ref string) error {
	_, err := a.ImageURI(ref)
	return err
}

// writeEnvFile is bash that writes the kqi_env array to "$env_file" as one
// NAME='value' line per variable, quoted as shellQuote does. Apptainer
// evaluates the file as shell with command execution disabled, so single
// quotes keep every value literal, newlines included.
const writeEnvFile = `: >"$env_file"
for kv in "${kqi_env[@]}"; do
	value=${kv#*=}
	printf "%s='%s'\n" "${kv%%=*}" "${value//\'/\'\\\'\'}" >>"$env_file"
done
`

// indent prefixes every line of s with prefix.
func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}

// ShellFunction implements Runtime.
func (a Apptainer) ShellFunction(spec JobSpec) (string, error) {
	image, err := a.ImageURI(spec.Image)
	if err != nil {
		return "", err
	}
	for _, arg := range a.ExtraArgs {
		if err := checkLine("apptainer extra argument", arg); err != nil {
			return "", err
		}
	}
	bin := a.Binary
	if bin == "" {
		bin = "apptainer"
	}
	w := &scriptWriter{}
	w.raw("kqi_container() {\n")
	w.raw("\tlocal env_file=$kqi_tmp/env kv value args\n")
	w.raw(indent(writeEnvFile, "\t"))
	w.raw("\targs=(exec --containall --cleanenv")
	if spec.GPUs > 0 {
		w.raw(" --nv")
	}
	if a.Fakeroot {
		w.raw(" --fakeroot")
	}
	for _, arg := range a.ExtraArgs {
		w.raw(" " + w.q(arg))
	}
	w.raw("\n")
	for _, m := range binds(spec) {
		arg := m.src + ":" + m.dst
		if m.readOnly {
			arg += ":ro"
		}
		w.raw("\t\t--bind " + w.q(arg) + "\n")
	}
	w.raw("\t\t--pwd /kqi/git --env-file \"$env_file\" " + w.q(image) + ")\n")
	w.raw("\tif [[ -n $kqi_registry_username || -n $kqi_registry_password ]]; then\n")
	w.raw("\t\tAPPTAINER_DOCKER_USERNAME=$kqi_registry_username APPTAINER_DOCKER_PASSWORD=$kqi_registry_password \\\n")
	w.raw("\t\t\t" + w.q(bin) + " \"${args[@]}\" \"${kqi_launch[@]}\" \"$1\"\n")
	w.raw("\telse\n")
	w.raw("\t\t" + w.q(bin) + " \"${args[@]}\" \"${kqi_launch[@]}\" \"$1\"\n")
	w.raw("\tfi\n")
	w.raw("}\n")
	if w.err != nil {
		return "", w.err
	}
	return w.b.String(), nil
}
