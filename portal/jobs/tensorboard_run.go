package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"kqi/portal/refusal"
	"kqi/slurm"
	"kqi/storage"
)

// What users see of a TensorBoard: starting (Slurm has not started it, or
// it does not answer yet), ready (it answers on its endpoint), stopped.
const (
	TensorBoardStarting = "starting"
	TensorBoardReady    = "ready"
	TensorBoardStopped  = "stopped"
)

// TensorBoardRoot is where the portal serves TensorBoards: TensorBoard id
// at TensorBoardRoot/{id}/, which the job is told as its path prefix; the
// proxy passes paths on unchanged.
const TensorBoardRoot = "/tensorboard"

// TensorBoardPath is the portal path of TensorBoard id.
func TensorBoardPath(id int64) string { return TensorBoardRoot + "/" + strconv.FormatInt(id, 10) + "/" }

// EndpointFile is where a TensorBoard job writes "host:port", below its
// output directory (the one place its container may write).
const EndpointFile = "tensorboard.endpoint"

// startMu keeps two requests for the same set from both starting one; it
// guards a check and an insert, per portal process.
var startMu sync.Mutex

// StartTensorBoard returns the user's TensorBoard over exactly these
// trainings, starting one when none is active; started reports which.
// Refusals: no training, too many, one that is not a training of the
// tenant (another tenant's looks the same as none).
func (s *Service) StartTensorBoard(ctx context.Context, who Actor, trainingIDs []int64) (j *storage.Job, started bool, err error) {
	ids := slices.Clone(trainingIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	switch {
	case len(ids) == 0:
		return nil, false, refusal.Invalidf("training_ids", "tensorboard.training_required")
	case len(ids) > maxParents:
		return nil, false, refusal.Invalidf("training_ids", "tensorboard.too_many_trainings", strconv.Itoa(maxParents))
	}
	first, err := s.Job(ctx, who.TenantID, Training, ids[0])
	if errors.Is(err, storage.ErrNotFound) {
		return nil, false, refusal.Invalidf("training_ids", "tensorboard.unknown_parent", strconv.FormatInt(ids[0], 10))
	} else if err != nil {
		return nil, false, err
	}
	startMu.Lock()
	defer startMu.Unlock()
	if j, err := s.Store.FindTensorBoard(ctx, who.TenantID, who.UserID, ids); err == nil {
		return j, false, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, false, err
	}
	cfg := s.Cfg.TensorBoard
	cmd, err := tensorBoardCommand(cfg.Command)
	if err != nil {
		return nil, false, err
	}
	req := Request{Name: first.Name, Image: cfg.Image, Command: cmd, CPU: cfg.CPU, MemoryGB: cfg.MemoryGB, Partition: cfg.Partition, ParentIDs: ids}
	j, err = s.Submit(ctx, who, TensorBoard, req)
	if r, ok := refusal.Of(err); ok {
		// The fields of a request the user did not write (cpu, partition,
		// parent_id …) are the site's settings or the set: name the set.
		for i := range r.Fields {
			r.Fields[i].Field = "training_ids"
		}
	}
	return j, err == nil, err
}

// tensorBoardCommand is a TensorBoard job's command: pick a free port on
// the node, record the endpoint (the node's name and that port) for the
// portal, then run the site's command with its placeholders filled in.
// The container shares the node's network, so the port is the node's.
func tensorBoardCommand(site string) (string, error) {
	logdir, err := slurm.QuoteWord("/kqi/parent")
	if err != nil {
		return "", err
	}
	filled := strings.NewReplacer("{logdir}", logdir, "{port}", `"$kqi_port"`,
		"{prefix}", `"`+TensorBoardRoot+`/$TENSORBOARD_ID"`).Replace(site)
	return `# Written by KQI: find a free port, tell the portal, start TensorBoard.
kqi_port=
for ((kqi_try = 0; kqi_try < 200; kqi_try++)); do
	kqi_p=$((20000 + RANDOM % 30000))
	if ! (: </dev/tcp/127.0.0.1/$kqi_p) 2>/dev/null; then kqi_port=$kqi_p; break; fi
done
if [[ -z $kqi_port ]]; then echo "no free port found" >&2; exit 1; fi
printf '%s:%s\n' "$HOSTNAME" "$kqi_port" >/kqi/output/` + EndpointFile + `.tmp
mv -f /kqi/output/` + EndpointFile + `.tmp /kqi/output/` + EndpointFile + `
echo "TensorBoard on $HOSTNAME port $kqi_port"
exec ` + filled, nil
}

// ErrNoEndpoint means a TensorBoard has not (validly) said where it listens.
var ErrNoEndpoint = errors.New("jobs: no tensorboard endpoint")

var endpointHost = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^[0-9a-fA-F:.]+$`)

// TensorBoardEndpoint is the host:port the job wrote to EndpointFile.
// The file is the job's: anything but a host name or address and a port
// is no endpoint, and so is a host other than the node Slurm runs the job
// on (its name, or a longer name of it: vm01.cluster for vm01), so that
// the proxy never reaches further than that node.
func (s *Service) TensorBoardEndpoint(ctx context.Context, j *storage.Job) (string, error) {
	f, err := s.OpenOutput(ctx, j, EndpointFile)
	if err != nil {
		return "", ErrNoEndpoint
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 300))
	if err != nil {
		return "", ErrNoEndpoint
	}
	line, _, _ := strings.Cut(string(b), "\n")
	host, port, err := net.SplitHostPort(strings.TrimSpace(line))
	if err != nil || len(host) > 253 || !endpointHost.MatchString(host) || !onNode(host, j.Node) {
		return "", ErrNoEndpoint
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", ErrNoEndpoint
	}
	return net.JoinHostPort(host, port), nil
}

func onNode(host, node string) bool {
	host, node = strings.ToLower(host), strings.ToLower(node)
	return node != "" && (host == node || strings.HasPrefix(host, node+"."))
}

// probeTimeout bounds asking whether a TensorBoard answers.
const probeTimeout = 2 * time.Second

// TensorBoardState is what the user is told of TensorBoard job j.
func (s *Service) TensorBoardState(ctx context.Context, j *storage.Job) string {
	if !j.Active() || j.StopRequested {
		return TensorBoardStopped
	}
	if j.Status != string(slurm.StatusRunning) {
		return TensorBoardStarting
	}
	ep, err := s.TensorBoardEndpoint(ctx, j)
	if err != nil {
		return TensorBoardStarting
	}
	d := net.Dialer{Timeout: probeTimeout}
	c, err := d.DialContext(ctx, "tcp", ep)
	if err != nil {
		return TensorBoardStarting
	}
	c.Close()
	return TensorBoardReady
}

// TensorBoardSeen records that a request reached TensorBoard id, for
// idle shutdown. The row is written at most every touchEvery.
func (s *Service) TensorBoardSeen(ctx context.Context, id int64) error {
	return s.Store.TouchTensorBoard(ctx, id, s.now(), touchEvery)
}

// touchEvery is how stale a TensorBoard's last request may be recorded:
// far below any sensible idle time, and one write instead of hundreds
// while a page loads.
const touchEvery = 15 * time.Second

// keepEnded is how long a stopped TensorBoard's row and directory (its
// log, for a look at why it stopped) stay before the poller removes them:
// nothing else of it is worth keeping.
const keepEnded = 24 * time.Hour

// reapTensorBoards asks the poller to stop the TensorBoards whose
// trainings have been deleted and those no request has reached for the
// site's idle time (KAMONOHASHI's users forgot theirs), and removes those
// stopped for longer than keepEnded.
func (s *Service) reapTensorBoards(ctx context.Context) {
	ended, err := s.Store.EndedTensorBoards(ctx, s.now().Add(-keepEnded))
	if err != nil {
		s.Log.Warn("listing ended tensorboards", "error", err)
	}
	for _, j := range ended {
		if err := s.Delete(ctx, j.TenantID, TensorBoard, j.ID); err != nil {
			s.Log.Warn("removing an ended tensorboard", "job", j.ID, "error", err)
		}
	}
	live, err := s.Store.LiveTensorBoards(ctx)
	if err != nil {
		s.Log.Warn("listing tensorboards", "error", err)
		return
	}
	idle := s.Cfg.TensorBoard.Idle
	for _, l := range live {
		why := ""
		switch {
		case l.Lost:
			why = "a training it shows was deleted"
		case idle > 0 && s.now().Sub(l.Since) > idle:
			why = fmt.Sprintf("no request for %s", idle)
		default:
			continue
		}
		s.Log.Info("stopping a tensorboard", "job", l.JobID, "why", why)
		if err := s.Store.RequestStop(ctx, l.TenantID, l.JobID); err != nil {
			s.Log.Warn("stopping a tensorboard", "job", l.JobID, "error", err)
		}
	}
}
