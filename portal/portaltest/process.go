package portaltest

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"kqi/storage/storagetest"
)

// Process is a kqi-portal binary run as a process of its own, on its own
// database and shared-root directory, answering over HTTP as in
// production: what the fault suite crashes and the benchmarks measure
// (its memory is its own, not the test's).
type Process struct {
	Name     string
	URL      string
	DB       *sql.DB  // its database, direct
	Root     string   // its KQI_SHARED_ROOT
	Env      []string // its environment; change it before Start
	Password string   // of its administrator, "admin" in tenant ProcessTenant
	Client   *http.Client

	// Set by Login.
	Token   string
	Dataset int64

	bin  string
	logf *os.File
	cmd  *exec.Cmd
}

// ProcessTenant is the tenant a Process's administrator belongs to.
const ProcessTenant = "process"

// ProcessClusterEnv are the dev cluster's settings a Process is started
// with (pass them to slurmtest.Integration).
var ProcessClusterEnv = []string{
	"KQI_DATABASE_URL", "KQI_SLURM_REST_URL", "KQI_SLURM_JWT_KEY_FILE", "KQI_SLURM_USER",
	"KQI_SSH_ADDR", "KQI_SSH_USER", "KQI_SSH_KEY_FILE", "KQI_SSH_KNOWN_HOSTS",
	"KQI_SHARED_ROOT", "KQI_DEV_IMAGE_ROOT", "KQI_DEV_IMAGE", "KQI_DEV_GIT_PUBLIC_REPO", "KQI_DEV_NODE",
}

// BuildPortal builds cmd/kqi-portal from this tree and returns its path.
func BuildPortal(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kqi-portal")
	if out, err := exec.Command("go", "build", "-o", bin, "kqi/cmd/kqi-portal").CombinedOutput(); err != nil {
		t.Fatalf("build the portal: %v\n%s", err, out)
	}
	return bin
}

// NewProcess prepares (does not start) a portal: a database, a shared
// root (a tmpfs of rootSize bytes when rootSize > 0), its settings over
// the defaults below, and an administrator. cluster holds the dev
// cluster's settings (ProcessClusterEnv).
func NewProcess(t *testing.T, name, bin string, cluster, settings map[string]string, rootSize int64) *Process {
	t.Helper()
	_, dbURL := storagetest.NewStore(t)
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	dir := t.TempDir()
	root := SharedDir(t, cluster["KQI_SHARED_ROOT"], "process-"+name+"-", cluster["KQI_SLURM_USER"], 0o700)
	if rootSize > 0 {
		mount := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(rootSize, 10)+",mode=0700", "tmpfs", root)
		if out, err := mount.CombinedOutput(); err != nil {
			t.Fatalf("mount a tmpfs: %v\n%s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", "-l", root).Run() })
		ChownToAccount(t, root, cluster["KQI_SLURM_USER"])
	}
	key := filepath.Join(dir, "secret.key")
	if err := os.WriteFile(key, []byte(rand.Text()+rand.Text()), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	vars := map[string]string{
		"KQI_LISTEN": addr, "KQI_BASE_URL": "http://" + addr, "KQI_DATABASE_URL": dbURL,
		"KQI_SLURM_USER": cluster["KQI_SLURM_USER"], "KQI_SLURM_JWT_KEY_FILE": cluster["KQI_SLURM_JWT_KEY_FILE"],
		"KQI_SHARED_ROOT": root, "KQI_SECRET_KEY_FILE": key,
		"KQI_RUNTIME": "bubblewrap", "KQI_IMAGE_ROOT": cluster["KQI_DEV_IMAGE_ROOT"], "KQI_DEFAULT_IMAGE": cluster["KQI_DEV_IMAGE"],
		"KQI_ADMIN_USER": "admin", "KQI_ADMIN_PASSWORD": "process-" + rand.Text(), "KQI_ADMIN_TENANT": ProcessTenant,
		"KQI_SHELL_LISTEN": "off", // shells are not what these processes are for
	}
	for k, v := range settings {
		vars[k] = v
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	logf, err := os.Create(filepath.Join(dir, "portal.log"))
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{Name: name, URL: "http://" + addr, DB: db, Root: root, Env: env, Password: vars["KQI_ADMIN_PASSWORD"],
		Client: &http.Client{Timeout: 60 * time.Second}, bin: bin, logf: logf}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("log of portal %s (last 8 KiB):\n%s", name, b[max(0, len(b)-8<<10):])
		}
	})
	cmd := exec.Command(bin, "create-admin")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("create-admin: %v\n%s", err, out)
	}
	return p
}

// Start runs the portal and waits until it answers /readyz.
func (p *Process) Start(t *testing.T) {
	t.Helper()
	p.cmd = exec.Command(p.bin, "serve")
	p.cmd.Env = p.Env
	p.cmd.Stdout, p.cmd.Stderr = p.logf, p.logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := p.Client.Get(p.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("portal %s does not answer /readyz: %v", p.Name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// PID is the running portal's process id (0 when it is not running).
func (p *Process) PID() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Kill ends the portal with SIGKILL: no shutdown, no cleanup, as a crash.
func (p *Process) Kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	p.cmd = nil
}

// Login gets an API token and makes a dataset with one 64 KiB datum.
func (p *Process) Login(t *testing.T) {
	t.Helper()
	var tok struct{ Token string }
	p.Call(t, "POST", "/api/v1/auth/token", map[string]string{"username": "admin", "password": p.Password, "tenant": ProcessTenant}, http.StatusCreated, &tok)
	p.Token = tok.Token
	var d struct{ ID int64 }
	status, body := p.Upload(t, "input", 64<<10)
	if status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, body)
	}
	json.Unmarshal(body, &d)
	var ds struct{ ID int64 }
	p.Call(t, "POST", "/api/v1/datasets", map[string]any{"name": "process", "entries": map[string][]int64{"training": {d.ID}}}, http.StatusCreated, &ds)
	p.Dataset = ds.ID
}

// Call sends a JSON request and decodes the answer, which must have
// status want.
func (p *Process) Call(t *testing.T, method, path string, in any, want int, out any) {
	t.Helper()
	status, body, err := p.Do(method, path, in)
	if err != nil || status != want {
		t.Fatalf("%s %s: %d %s, %v; want %d", method, path, status, body, err, want)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, body)
		}
	}
}

// Do sends a JSON request with the Login token, if any.
func (p *Process) Do(method, path string, in any) (int, []byte, error) {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.URL+path, body)
	req.Header.Set("Content-Type", "application/json")
	if p.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.Token)
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// UploadBody is the multipart body of a datum of size bytes, and its
// content type.
func UploadBody(name string, size int) (*bytes.Buffer, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("name", name)
	w, _ := mw.CreateFormFile("file", "blob.bin")
	w.Write(bytes.Repeat([]byte("kqi-process "), size/12+1)[:size])
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// Upload registers a datum of size bytes.
func (p *Process) Upload(t *testing.T, name string, size int) (int, []byte) {
	t.Helper()
	body, contentType := UploadBody(name, size)
	req, _ := http.NewRequest("POST", p.URL+"/api/v1/data", body)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+p.Token)
	resp, err := p.Client.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, []byte(err.Error())
	}
	return resp.StatusCode, b
}

// SharedDir makes a directory of its own under the shared root (prefix and
// a random suffix) for one test, owned by the cluster account jobs run as,
// and removes it at the end.
func SharedDir(t testing.TB, sharedRoot, prefix, account string, perm os.FileMode) string {
	t.Helper()
	dir := filepath.Join(sharedRoot, prefix+strings.ToLower(rand.Text()[:10]))
	if err := os.Mkdir(dir, perm); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ChownToAccount(t, dir, account)
	return dir
}

// ChownToAccount gives path to a local account.
func ChownToAccount(t testing.TB, path, account string) {
	t.Helper()
	u, err := user.Lookup(account)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
}
