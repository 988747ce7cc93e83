package slurm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Apptainer runs the command with `apptainer exec --containall --cleanenv
// --no-eval`, the production default: nothing from the host leaks in but the
// /kqi binds and the environment the script writes to an --env-file (a
// private temporary file on the node, removed when the script exits, so
// secrets are never on a command line).
//
// Apptainer reads the env file with a shell parser (mvdan.cc/sh) and, unless
// --no-eval is given, evaluates every value a second time inside the
// container, where $HOME, $(…) and backticks expand and a value ending in \
// breaks the whole file. So --no-eval is always passed, and values are
// single-quoted with Apptainer's own escape for a quote ('"'"'), which its
// parser returns byte for byte (slurm/internal/apptainerenv reproduces it
// for the tests).
//
// GPUs: --nv when the job asks for GPUs (--nvccli instead when the site
// sets NvCCLI); Slurm's cgroups decide which devices the job sees and its
// CUDA_VISIBLE_DEVICES is passed on.
//
// Image references:
//   - "docker://registry/name:tag" is pulled once into PullDir as a SIF
//     (the first job pulls to a temporary name and renames it; jobs that
//     need the same image meanwhile wait on a lock beside it), with the
//     user's registry credentials in the pull's own environment only, then
//     run from there. Pulls made with credentials are kept apart per
//     registry user, so nobody runs a private image they could not pull.
//     Without a PullDir the image is run from the URI (Apptainer's own
//     cache) with the credentials in that command's environment.
//   - "oras://…" and "library://…" are used as given.
//   - An absolute path is a SIF file or sandbox directory inside ImageDir.
//   - A plain name ("name:tag", "team/name") is looked up in ImageDir
//     first: ImageDir/name/tag.sif or the sandbox directory ImageDir/name/tag.
//     Failing that, a name whose first part is a registered registry
//     ("registry.example.org/team/name:tag") is that registry's Docker
//     image. Anything else is refused: a plain name never silently becomes
//     a Docker Hub image (write docker://name:tag for that).
type Apptainer struct {
	Binary string // the apptainer executable; "" = apptainer from the job's PATH
	// GlobalArgs go before "exec" and "pull", such as "--quiet" (which also
	// drops the "INFO: gocryptfs not found" line from every log).
	GlobalArgs []string
	// ExtraArgs are site-wide options for `apptainer exec`, such as
	// "--drop-caps", "CAP_SYS_RESOURCE" on hosts where root lacks that
	// capability, or "--unsquash" where /dev/fuse is not usable.
	ExtraArgs []string
	// Fakeroot runs the command as root in the container. It needs
	// /etc/subuid and /etc/subgid entries for the job account, so it is a
	// site option.
	Fakeroot bool
	// NvCCLI sets up GPUs with nvidia-container-cli (--nvccli) instead of
	// Apptainer's own library binds (--nv).
	NvCCLI bool
	// Network is NetworkHost ("" too) or NetworkIsolated: --net --network
	// none, a network namespace with only loopback (the one network
	// Apptainer lets unprivileged users have), bridged to the site's
	// proxies like Bubblewrap's (see writeApptainerBridge).
	Network string
	// ImageDir is the site's store of SIF files and sandboxes, as the nodes
	// and the portal host see it; "" = none (no paths, no plain names).
	ImageDir string
	// PullDir is where docker:// images are pulled to, writable by the job
	// account; "" = none.
	PullDir string
	// Registries are the hosts of the registered registries, which plain
	// names may start with.
	Registries []string
	// Stat looks images up in the store; nil = os.Stat.
	Stat func(string) (fs.FileInfo, error)
}

// WithRegistries implements RegistryRuntime.
func (a Apptainer) WithRegistries(hosts []string) Runtime {
	a.Registries = hosts
	return a
}

var (
	imageURI  = regexp.MustCompile(`^(docker|oras|library)://[A-Za-z0-9][A-Za-z0-9._/:@+-]*$`)
	imageName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$`)
)

// apptainerImage is where a job's image comes from.
type apptainerImage struct {
	uri  string // what apptainer exec runs
	pull string // docker:// image to pull to uri first; "" = none
}

// ImageURI returns the reference apptainer exec is given for ref.
func (a Apptainer) ImageURI(ref string) (string, error) {
	img, err := a.resolve(ref)
	return img.uri, err
}

func (a Apptainer) stat(p string) (fs.FileInfo, error) {
	if a.Stat != nil {
		return a.Stat(p)
	}
	return os.Stat(p)
}

func (a Apptainer) resolve(ref string) (apptainerImage, error) {
	switch {
	case ref == "":
		return apptainerImage{}, errors.New("image is required")
	case strings.HasPrefix(ref, "/"):
		if err := checkPath("image path", ref); err != nil {
			return apptainerImage{}, err
		}
		if a.ImageDir == "" {
			return apptainerImage{}, fmt.Errorf("image %q: this site has no image store for files; name a registry image such as docker://registry/name:tag", ref)
		}
		// checkPath refused ".." parts, so a prefix is containment.
		if !strings.HasPrefix(ref, strings.TrimSuffix(a.ImageDir, "/")+"/") {
			return apptainerImage{}, fmt.Errorf("image %q: a file image must be inside the site's image store %s", ref, a.ImageDir)
		}
		if a.pulled(ref) {
			return apptainerImage{}, fmt.Errorf("image %q: pulled images are named by their docker:// reference, not their file", ref)
		}
		if _, err := a.stat(ref); err != nil {
			return apptainerImage{}, fmt.Errorf("image %q is not in the site's image store", ref)
		}
		return apptainerImage{uri: ref}, nil
	case strings.Contains(ref, "://"):
		if !imageURI.MatchString(ref) {
			return apptainerImage{}, fmt.Errorf("image %q must be docker://, oras:// or library:// followed by letters, digits and . _ / : @ + -", ref)
		}
		_, name, _ := strings.Cut(ref, "://")
		if err := checkImageParts(ref, name); err != nil {
			return apptainerImage{}, err
		}
		if strings.HasPrefix(ref, "docker://") {
			return a.docker(ref)
		}
		return apptainerImage{uri: ref}, nil
	case imageName.MatchString(ref):
		if err := checkImageParts(ref, ref); err != nil {
			return apptainerImage{}, err
		}
		if a.ImageDir != "" {
			p, err := storePath(a.ImageDir, ref)
			if err != nil {
				return apptainerImage{}, err
			}
			if a.pulled(p) {
				return apptainerImage{}, fmt.Errorf("image %q: pulled images are named by their docker:// reference", ref)
			}
			if fi, err := a.stat(p + ".sif"); err == nil && fi.Mode().IsRegular() {
				return apptainerImage{uri: p + ".sif"}, nil
			}
			if fi, err := a.stat(p); err == nil && fi.IsDir() {
				return apptainerImage{uri: p}, nil
			}
		}
		if host, _, ok := strings.Cut(ref, "/"); ok {
			for _, r := range a.Registries {
				if strings.EqualFold(r, host) {
					return a.docker("docker://" + ref)
				}
			}
		}
		return apptainerImage{}, fmt.Errorf("image %q is not in the site's image store and does not start with a registered registry; for a Docker Hub image write docker://%s", ref, ref)
	default:
		return apptainerImage{}, fmt.Errorf("image %q may contain only letters, digits and . _ / : @ + -", ref)
	}
}

// pulled reports whether p is in the pull store, which may hold other
// users' private images: those are reached only through their docker://
// reference and the puller's credentials.
func (a Apptainer) pulled(p string) bool {
	return a.PullDir != "" && strings.HasPrefix(p, strings.TrimSuffix(a.PullDir, "/")+"/")
}

// docker is where a docker:// image runs from: its SIF in PullDir, pulled
// by the first job that needs it.
func (a Apptainer) docker(uri string) (apptainerImage, error) {
	if a.PullDir == "" {
		return apptainerImage{uri: uri}, nil
	}
	p, err := storePath(a.PullDir, uri)
	if err != nil {
		return apptainerImage{}, err
	}
	return apptainerImage{uri: p + ".sif", pull: uri}, nil
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
	_, err := a.resolve(ref)
	return err
}

// writeEnvFile is bash that writes the kqi_env array to "$env_file" as one
// NAME='value' line per variable, a ' in the value written as '"'"' ($sq)
// as Apptainer's own quoting does, and a carriage return as '$'\r” ($cr),
// since Apptainer's parser reads CR LF inside quotes as LF. With
// --no-eval, the parser returns every value byte for byte, newlines and
// backslashes included.
// envQuotes are the replacements writeEnvFile uses, as bash assignments.
const envQuotes = `sq="'\"'\"'" cr="'\$'\\r''"`

const writeEnvFile = `: >"$env_file"
for kv in "${kqi_env[@]}"; do
	value=${kv#*=}
	value=${value//"'"/"$sq"}
	value=${value//$'\r'/"$cr"}
	printf "%s='%s'\n" "${kv%%=*}" "$value" >>"$env_file"
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
	img, err := a.resolve(spec.Image)
	if err != nil {
		return "", err
	}
	for _, arg := range append(append([]string{}, a.GlobalArgs...), a.ExtraArgs...) {
		if err := checkLine("apptainer site argument", arg); err != nil {
			return "", err
		}
	}
	// Apptainer parses the env file twice, the second time from text it
	// writes itself; its parser reads CR LF inside quotes as LF and refuses
	// bytes that are not UTF-8.
	for _, v := range append(append(append([]EnvVar{}, spec.SiteEnv...), spec.System...), spec.Env...) {
		if strings.Contains(v.Value, "\r\n") {
			return "", fmt.Errorf("environment variable %s: Apptainer would turn its CR LF into LF; remove the carriage return", v.Name)
		}
		if !utf8.ValidString(v.Value) {
			return "", fmt.Errorf("environment variable %s: Apptainer takes only UTF-8 text", v.Name)
		}
	}
	var bridges []proxyBridge
	var inside []EnvVar
	if a.Network == NetworkIsolated {
		if bridges, inside, err = proxyBridges(spec.SiteEnv); err != nil {
			return "", err
		}
	}
	bin := a.Binary
	if bin == "" {
		bin = "apptainer"
	}
	w := &scriptWriter{}
	cmd := w.q(bin)
	for _, arg := range a.GlobalArgs {
		cmd += " " + w.q(arg)
	}
	if img.pull != "" {
		a.writePull(w, cmd, img)
	}
	w.raw("kqi_container() {\n")
	w.raw("\tlocal env_file=$kqi_tmp/env kv value args " + envQuotes + " image=" + w.q(img.uri) + "\n")
	if img.pull != "" {
		w.raw("\tkqi_pull_image || return\n")
		w.raw("\timage=$kqi_pulled_image\n")
	}
	if len(inside) > 0 {
		// The proxy variables lead to the bridges on the job's loopback;
		// later lines of the env file win.
		w.raw("\tlocal -a kqi_env=(\"${kqi_env[@]}\"")
		for _, e := range inside {
			w.raw(" " + w.q(e.Name+"="+e.Value))
		}
		w.raw(")\n")
	}
	w.raw(indent(writeEnvFile, "\t"))
	w.raw("\targs=(exec --containall --cleanenv --no-eval")
	switch {
	case spec.GPUs > 0 && a.NvCCLI:
		w.raw(" --nvccli")
	case spec.GPUs > 0:
		w.raw(" --nv")
	}
	if a.Fakeroot {
		w.raw(" --fakeroot")
	}
	if a.Network == NetworkIsolated {
		w.raw(" --net --network none")
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
	w.raw("\t\t--pwd /kqi/git --env-file \"$env_file\" \"$image\")\n")
	run := func(launch, after string) {
		if !strings.HasPrefix(img.uri, "docker://") {
			// A local image: registry credentials, if any, were the pull's only.
			w.raw("\t" + cmd + " \"${args[@]}\" " + launch + after + "\n")
			return
		}
		w.raw("\tif [[ -n $kqi_registry_username || -n $kqi_registry_password ]]; then\n")
		w.raw("\t\tAPPTAINER_DOCKER_USERNAME=$kqi_registry_username APPTAINER_DOCKER_PASSWORD=$kqi_registry_password \\\n")
		w.raw("\t\t\t" + cmd + " \"${args[@]}\" " + launch + after + "\n")
		w.raw("\telse\n")
		w.raw("\t\t" + cmd + " \"${args[@]}\" " + launch + after + "\n")
		w.raw("\tfi\n")
	}
	if len(bridges) > 0 {
		writeApptainerBridge(w, bridges, run)
	} else {
		run(`"${kqi_launch[@]}" "$1"`, "")
	}
	w.raw("}\n")
	if w.err != nil {
		return "", w.err
	}
	return w.b.String(), nil
}

// writePull writes kqi_pull_image, which makes sure the SIF of img.pull is
// in the pull store and sets kqi_pulled_image to it. A pull with
// credentials goes below by-user/HASH (of the registry user name), so a
// private image is shared only with those who pull with the same account.
func (a Apptainer) writePull(w *scriptWriter, cmd string, img apptainerImage) {
	rel := strings.TrimPrefix(img.uri, strings.TrimSuffix(a.PullDir, "/")+"/")
	w.raw("# kqi_pull_image pulls the image into the shared store once: to a\n")
	w.raw("# temporary name, then renamed; jobs pulling the same image wait on its lock.\n")
	w.raw("kqi_pull_image() {\n")
	w.raw("\tlocal store=" + w.q(strings.TrimSuffix(a.PullDir, "/")) + " rel=" + w.q(rel) + " uri=" + w.q(img.pull) + " sif tmp fd rc=0\n")
	w.raw("\tif [[ -n $kqi_registry_username ]]; then\n")
	w.raw("\t\tstore+=/by-user/$(printf '%s' \"$kqi_registry_username\" | sha256sum | cut -c1-16)\n")
	w.raw("\tfi\n")
	w.raw("\tsif=$store/$rel\n")
	w.raw("\tkqi_pulled_image=$sif\n")
	w.raw("\t[[ -s $sif ]] && return 0\n")
	w.raw("\tmkdir -p -- \"${sif%/*}\" || return\n")
	w.raw("\texec {fd}>>\"$sif.lock\" || return\n")
	w.raw("\t# While it pulls, or waits for another job's pull, the portal says so.\n")
	w.raw("\tif [[ ! -s $sif ]]; then : >\"$kqi_job/" + PullingFile + "\" || true; fi\n")
	w.raw("\tflock \"$fd\"\n")
	w.raw("\tif [[ ! -s $sif ]]; then\n")
	w.raw("\t\tkqi_say \"pulling image $uri into $sif\"\n")
	w.raw("\t\ttmp=$(mktemp -- \"$sif.pull.XXXXXX\") || rc=$?\n")
	w.raw("\t\tif ((rc == 0)); then\n")
	w.raw("\t\t\tif [[ -n $kqi_registry_username || -n $kqi_registry_password ]]; then\n")
	w.raw("\t\t\t\tAPPTAINER_DOCKER_USERNAME=$kqi_registry_username APPTAINER_DOCKER_PASSWORD=$kqi_registry_password \\\n")
	w.raw("\t\t\t\t\t" + cmd + " pull --force \"$tmp\" \"$uri\" || rc=$?\n")
	w.raw("\t\t\telse\n")
	w.raw("\t\t\t\t" + cmd + " pull --force \"$tmp\" \"$uri\" || rc=$?\n")
	w.raw("\t\t\tfi\n")
	w.raw("\t\tfi\n")
	w.raw("\t\tif ((rc == 0)); then\n")
	w.raw("\t\t\tchmod 0644 -- \"$tmp\" && mv -f -- \"$tmp\" \"$sif\" || rc=$?\n")
	w.raw("\t\tfi\n")
	w.raw("\t\tif ((rc == 0)); then kqi_say \"pulled image $uri\"; else kqi_say \"pulling $uri failed (exit $rc)\"; rm -f -- \"$tmp\"; fi\n")
	w.raw("\tfi\n")
	w.raw("\trm -f -- \"$kqi_job/" + PullingFile + "\"\n")
	w.raw("\texec {fd}>&-\n")
	w.raw("\treturn \"$rc\"\n")
	w.raw("}\n")
}
