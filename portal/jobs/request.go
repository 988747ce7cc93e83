package jobs

import (
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"kqi/portal/api/apitypes"
	"kqi/portal/input"
	"kqi/portal/refusal"
	"kqi/storage"
)

// Form is a job form (training, inference) as typed, every field a string
// so a refused form comes back exactly as it was.
type Form struct {
	Name, DatasetID, Image, GitRepository, GitBranch, GitCommit, Command string
	CPU, MemoryGB, GPU, Partition, Env, Memo, SbatchOptions, TimeLimit   string

	ParentIDs []string // the chosen parents (a training takes one)
}

// ParseForm reads the form's fields.
func ParseForm(v url.Values) Form {
	f := Form{Name: v.Get("name"), DatasetID: v.Get("dataset_id"), Image: v.Get("image"),
		GitRepository: v.Get("git_repository"), GitBranch: v.Get("git_branch"), GitCommit: v.Get("git_commit"), Command: v.Get("command"),
		CPU: v.Get("cpu"), MemoryGB: v.Get("memory_gb"), GPU: v.Get("gpu"), Partition: v.Get("partition"), Env: v.Get("env"),
		Memo: v.Get("memo"), SbatchOptions: v.Get("sbatch_options"), TimeLimit: v.Get("time_limit")}
	for _, p := range v["parent_id"] {
		if p = strings.TrimSpace(p); p != "" {
			f.ParentIDs = append(f.ParentIDs, p)
		}
	}
	return f
}

// HasParent reports whether the form names parent id (a select's choice).
func (f Form) HasParent(id int64) bool {
	for _, p := range f.ParentIDs {
		if p == strconv.FormatInt(id, 10) {
			return true
		}
	}
	return false
}

// Request turns the form into a request; what cannot even be parsed (a
// number that is not one, an env line without =) is refused here.
func (f Form) Request() (Request, error) {
	var bad refusal.Fields
	num := func(field, v string) int64 {
		v = strings.TrimSpace(v)
		if v == "" {
			return 0
		}
		n, ok := input.Int(v, math.MinInt32, math.MaxInt32)
		if !ok {
			bad.Add(field, "training.not_a_number")
		}
		return n
	}
	req := Request{Name: strings.TrimSpace(f.Name), Image: strings.TrimSpace(f.Image), GitRepository: strings.TrimSpace(f.GitRepository),
		GitBranch: strings.TrimSpace(f.GitBranch), GitCommit: strings.TrimSpace(f.GitCommit), Command: f.Command,
		Partition: f.Partition, Memo: f.Memo}
	req.CPU = int(num("cpu", f.CPU))
	req.MemoryGB = int(num("memory_gb", f.MemoryGB))
	req.GPU = int(num("gpu", f.GPU))
	req.TimeLimitMin = int(num("time_limit", f.TimeLimit))
	req.DatasetID = num("dataset_id", f.DatasetID)
	for _, p := range f.ParentIDs {
		req.ParentIDs = append(req.ParentIDs, num("parent_id", p))
	}
	req.Env = ParseEnvLines(f.Env, &bad)
	for _, line := range strings.Split(f.SbatchOptions, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			req.SbatchOptions = append(req.SbatchOptions, line)
		}
	}
	return req, bad.Err()
}

// FormFrom fills the form from an existing job (copy-run, or a parent's
// settings as defaults).
func FormFrom(j *storage.Job) Form {
	var env []string
	for _, e := range j.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	f := Form{Name: j.Name, Image: j.Image,
		GitRepository: j.GitRepository, GitBranch: j.GitBranch, GitCommit: j.GitCommit, Command: j.Command,
		CPU: strconv.Itoa(j.CPU), MemoryGB: strconv.Itoa(j.MemoryGB), GPU: strconv.Itoa(j.GPU), Partition: j.Partition,
		Env: strings.Join(env, "\n"), Memo: j.Memo, SbatchOptions: strings.Join(j.SbatchOptions, "\n"),
		TimeLimit: strconv.Itoa(j.TimeLimitMin)}
	if j.DatasetID != 0 {
		f.DatasetID = strconv.FormatInt(j.DatasetID, 10)
	}
	for _, p := range j.ParentIDs {
		f.ParentIDs = append(f.ParentIDs, strconv.FormatInt(p, 10))
	}
	return f
}

// GitRef is a model repository in the JSON API.
type GitRef = apitypes.GitRef

// TrainingJSON is POST /api/v1/trainings' body.
type TrainingJSON apitypes.TrainingRequest

// Request turns the body into a request.
func (b TrainingJSON) Request() Request {
	req := Request{Name: b.Name, DatasetID: b.DatasetID, Image: b.Image,
		GitRepository: b.Git.Repository, GitBranch: b.Git.Branch, GitCommit: b.Git.Commit, Command: b.Command,
		CPU: b.CPU, MemoryGB: b.MemoryGB, GPU: b.GPU, Partition: b.Partition, Memo: b.Memo,
		SbatchOptions: b.SbatchOptions, TimeLimitMin: b.TimeLimitMinutes}
	if b.ParentID != nil {
		req.ParentIDs = []int64{*b.ParentID}
	}
	// A JSON object has no order; sorted names make the job's environment
	// the same on every submit.
	names := make([]string, 0, len(b.Env))
	for k := range b.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		req.Env = append(req.Env, storage.EnvPair{Name: k, Value: b.Env[k]})
	}
	return req
}

// InferenceJSON is POST /api/v1/inferences' body: a training's, with
// "parent_ids" for one or more parents ("parent_id", if given, comes
// first).
type InferenceJSON apitypes.InferenceRequest

// Request turns the body into a request.
func (b InferenceJSON) Request() Request {
	req := TrainingJSON(b.TrainingRequest).Request()
	req.ParentIDs = append(req.ParentIDs, b.ParentIDs...)
	return req
}

// ParseEnvLines reads a form's environment variables, one NAME=value a
// line (blank lines skipped), refusing a line without "=" on field env.
func ParseEnvLines(text string, bad *refusal.Fields) []storage.EnvPair {
	var env []storage.EnvPair
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			bad.Add("env", "training.env_line", line)
			continue
		}
		env = append(env, storage.EnvPair{Name: strings.TrimSpace(name), Value: value})
	}
	return env
}
