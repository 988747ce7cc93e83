package slurm

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// HostImage is the Bubblewrap image reference that runs the node's own
// /usr, /etc, /opt and /var read-only: enough for python3 and git on a
// development machine, with nothing to prepare.
const HostImage = "host"

// Bubblewrap runs the command with bwrap(1) in a root filesystem directory,
// read-only, with the /kqi binds: the contract of `apptainer exec
// --containall` on machines without Apptainer, such as the dev cluster and
// the test suite.
//
// The root is a tmpfs; the image's usr, etc, opt, var and srv are bound
// read-only onto it and its bin, sbin and lib* are recreated as the symlinks
// they are on merged-/usr systems (or bound, where they are directories).
// Binding the image at / instead does not work: /kqi could not be created
// on it. The image's /root and /home are not used; HOME is /root on the
// writable tmpfs, like Apptainer's --containall home.
//
// The command runs as uid 0 inside a new user namespace (--unshare-user
// --uid 0), which works both as root and as an unprivileged user, since
// Slurm runs jobs as the submitting user; files it writes belong to that
// user outside.
//
// Image references map to directories under ImageRoot:
// "name:tag" → ImageRoot/name/tag, "registry.example.org/team/name" →
// ImageRoot/registry.example.org/team/name/latest, "name@sha256:…" →
// ImageRoot/name/sha256:…; a "docker://" prefix is ignored. HostImage maps
// to the node's own /.
type Bubblewrap struct {
	ImageRoot string // directory of root filesystems; may be "" when only HostImage is used
	Binary    string // the bwrap executable; "" = bwrap from the job's PATH
	// Network is NetworkHost ("" too) or NetworkIsolated (--unshare-net,
	// the site's proxies bridged in; see network.go).
	Network string
}

var imagePart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(:[0-9]+)?$`)

// RootFS returns the root filesystem directory for ref: "" for HostImage
// (paths are then taken from the node's /), else a directory under
// ImageRoot.
func (b Bubblewrap) RootFS(ref string) (string, error) {
	if ref == HostImage {
		return "", nil
	}
	if b.ImageRoot == "" {
		return "", fmt.Errorf("image %q: bubblewrap has no image root configured; only %q can run", ref, HostImage)
	}
	if err := checkPath("bubblewrap image root", b.ImageRoot); err != nil {
		return "", err
	}
	return storePath(b.ImageRoot, ref)
}

// storePath is where an image store keeps ref: "name:tag" at
// root/name/tag, "registry.example.org/team/name" at
// root/registry.example.org/team/name/latest, "name@sha256:…" at
// root/name/sha256:…; a "docker://" prefix is ignored.
func storePath(root, ref string) (string, error) {
	name := strings.TrimPrefix(ref, "docker://")
	tag := "latest"
	if at := strings.LastIndex(name, "@"); at >= 0 {
		name, tag = name[:at], name[at+1:]
	} else if colon := strings.LastIndex(name, ":"); colon > strings.LastIndex(name, "/") {
		name, tag = name[:colon], name[colon+1:]
	}
	if !imageTag.MatchString(tag) {
		return "", fmt.Errorf("image %q: tag %q may contain only letters, digits and . _ - :", ref, tag)
	}
	parts := strings.Split(name, "/")
	for i, p := range parts {
		// Only a registry host (the first of several parts) may carry a port.
		if !imagePart.MatchString(p) || (strings.Contains(p, ":") && (i > 0 || len(parts) == 1)) {
			return "", fmt.Errorf("image %q: %q is not a valid image name part", ref, p)
		}
	}
	return strings.TrimSuffix(root, "/") + "/" + name + "/" + tag, nil
}

var imageTag = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._:-]{0,127}$`)

// ValidateImage implements Runtime.
func (b Bubblewrap) ValidateImage(ref string) error {
	if ref == "" {
		return errors.New("image is required")
	}
	_, err := b.RootFS(ref)
	return err
}

// ShellFunction implements Runtime. The bwrap arguments, secret values
// among them, reach bwrap through a pipe (--args) rather than its command
// line, which any user on the node can read.
func (b Bubblewrap) ShellFunction(spec JobSpec) (string, error) {
	root, err := b.RootFS(spec.Image)
	if err != nil {
		return "", err
	}
	bin := b.Binary
	if bin == "" {
		bin = "bwrap"
	}
	w := &scriptWriter{}
	w.raw("kqi_container() {\n")
	w.raw("\tlocal root=" + w.q(root) + " d kv args\n")
	w.raw("\tif [[ ! -d $root/usr ]]; then\n")
	w.raw("\t\tkqi_say \"no root filesystem for $kqi_image at ${root:-/}\"\n")
	w.raw("\t\treturn 125\n")
	w.raw("\tfi\n")
	w.raw("\targs=(--unshare-user --uid 0 --gid 0 --unshare-pid --unshare-ipc --die-with-parent --tmpfs /)\n")
	// A new session keeps the batch job's container off any terminal; a
	// shell's own pseudo-terminal (Shells) must stay its controlling
	// terminal, or job control and Ctrl-C would not reach what runs in it.
	w.raw("\tif [[ ! -t 0 ]]; then args+=(--new-session); fi\n")
	w.raw("\tfor d in usr etc opt var srv bin sbin lib lib32 lib64 libx32; do\n")
	w.raw("\t\tif [[ -L $root/$d ]]; then\n")
	w.raw("\t\t\targs+=(--symlink \"$(readlink -- \"$root/$d\")\" \"/$d\")\n")
	w.raw("\t\telif [[ -d $root/$d ]]; then\n")
	w.raw("\t\t\targs+=(--ro-bind \"$root/$d\" \"/$d\")\n")
	w.raw("\t\tfi\n")
	w.raw("\tdone\n")
	w.raw("\targs+=(--proc /proc --dev /dev --tmpfs /tmp --dir /root --dir /kqi\n")
	for _, m := range binds(spec) {
		flag := "--bind"
		if m.readOnly {
			flag = "--ro-bind"
		}
		w.raw("\t\t" + flag + " " + w.q(m.src) + " " + m.dst + "\n")
	}
	w.raw("\t\t--chdir /kqi/git --clearenv\n")
	w.raw("\t\t--setenv PATH /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --setenv HOME /root)\n")
	if spec.GPUs > 0 {
		// --dev gives a minimal /dev; NVIDIA's devices are added when the
		// node has them, and CUDA_VISIBLE_DEVICES (from kqi_env) says
		// which ones Slurm allocated.
		w.raw("\tfor d in /dev/nvidia*; do\n")
		w.raw("\t\tif [[ -e $d ]]; then args+=(--dev-bind \"$d\" \"$d\"); fi\n")
		w.raw("\tdone\n")
	}
	w.raw("\tfor kv in \"${kqi_env[@]}\"; do args+=(--setenv \"${kv%%=*}\" \"${kv#*=}\"); done\n")
	var bridges []proxyBridge
	if b.Network == NetworkIsolated {
		var inside []EnvVar
		if bridges, inside, err = proxyBridges(spec.SiteEnv); err != nil {
			return "", err
		}
		w.raw("\targs+=(--unshare-net)\n")
		for _, e := range inside {
			w.raw("\targs+=(--setenv " + e.Name + " " + w.q(e.Value) + ")\n")
		}
	}
	if len(bridges) > 0 {
		writeBridgedLaunch(w, bin, bridges)
	} else {
		w.raw("\t" + w.q(bin) + " --args 3 -- \"${kqi_launch[@]}\" \"$1\" 3< <(printf '%s\\0' \"${args[@]}\")\n")
	}
	w.raw("}\n")
	if w.err != nil {
		return "", w.err
	}
	return w.b.String(), nil
}
