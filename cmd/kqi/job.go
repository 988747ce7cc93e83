package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"kqi/portal/api/apitypes"
	"kqi/portal/client"
)

// jobKind is what differs between trainings and inferences in the CLI.
type jobKind struct {
	name       string // training, inference
	collection client.Kind
	parents    bool // --parent may be repeated (inferences)
}

var (
	trainingKind  = jobKind{name: "training", collection: client.Trainings}
	inferenceKind = jobKind{name: "inference", collection: client.Inferences, parents: true}
)

func jobGroup(k jobKind) group {
	verbs := map[string]verb{
		"create":   {summary: "submit a " + k.name + " (--from ID copies one)", run: k.create},
		"list":     {summary: "list " + k.name + "s", run: k.list},
		"show":     {summary: "a " + k.name + "'s settings and status", run: k.show},
		"logs":     {summary: "its log (-f follows until it ends)", run: k.logs},
		"stop":     {summary: "stop it", run: k.stop},
		"delete":   {summary: "delete an ended one and its files", run: k.delete},
		"files":    {summary: "the files it wrote to /kqi/output", run: k.files},
		"download": {summary: "download one output file or all", run: k.download},
		"script":   {summary: "the batch script it was submitted with", run: k.script},
		"wait":     {summary: "wait until it ends; exit 0 if completed, 1 otherwise", run: k.wait},
		"edit":     {summary: "change memo, tags, favorite", run: k.edit},
		"attach":   {summary: "upload files into its /kqi/attach", run: k.attach},
	}
	if k == trainingKind {
		verbs["shell"] = verb{summary: "a shell (or one command) in it while it runs", run: (*app).shell}
	}
	return group{summary: k.name + "s: create, follow, download", verbs: verbs}
}

// jobFlags are create's settings; each applies only when given, over
// what --from copied.
type jobFlags struct {
	name, repository, branch, commit, image, command, partition, memo *string
	dataset, cpu, memory, gpu, timeLimit                              *int
	env, sbatch, parent                                               *list
	from                                                              *int64
}

func (k jobKind) create(a *app, ctx context.Context, args []string) error {
	c := newCommand(a, k.name+" create", "--name N --dataset ID --command CMD [flags] [--from ID] [--json]",
		"Submits a "+k.name+". --from ID starts from that "+k.name+"'s settings; the flags given override them.").withJSON()
	f := jobFlags{
		name: c.fs.String("name", "", "name: lower-case letters, digits, - and ."), dataset: c.fs.Int("dataset", 0, "dataset id"),
		repository: c.fs.String("repository", "", "model repository (URL or server/path)"), branch: c.fs.String("branch", "", "branch"),
		commit: c.fs.String("commit", "", "commit (wins over branch)"), image: c.fs.String("image", "", "container image (default: the site's)"),
		command: c.fs.String("command", "", "command to run"), cpu: c.fs.Int("cpu", 1, "CPU cores"), memory: c.fs.Int("memory", 1, "memory in GiB"),
		gpu: c.fs.Int("gpu", 0, "GPUs"), partition: c.fs.String("partition", "", "Slurm partition (default: the cluster's)"),
		env: c.list("env", "K=V environment variable (repeat)", false), memo: c.fs.String("memo", "", "memo"),
		sbatch:    c.list("sbatch", "an extra sbatch option, e.g. --mail-type=END (repeat)", false),
		timeLimit: c.fs.Int("time-limit", 0, "time limit in minutes (0: the partition's)"),
		parent:    c.list("parent", "parent job id (inferences: repeat or comma-separate)", true),
		from:      c.fs.Int64("from", 0, "copy this "+k.name+"'s settings"),
	}
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if !c.given("from") {
		need := []string{"name", "dataset", "command"}
		if k.parents {
			need = append(need, "parent")
		}
		if err := c.require(need...); err != nil {
			return err
		}
	}
	parents, err := parseIDs("--parent", f.parent.values)
	if err != nil {
		return err
	}
	if !k.parents && len(parents) > 1 {
		return usagef("%s create: a training has one --parent", k.name)
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	req := apitypes.InferenceRequest{TrainingRequest: apitypes.TrainingRequest{Env: map[string]string{}}}
	if c.given("from") {
		src, err := cl.Job(ctx, k.collection, *f.from)
		if err != nil {
			return fmt.Errorf("--from %d: %v", *f.from, err)
		}
		req = requestFrom(src)
	}
	t := &req.TrainingRequest
	set := func(name string, apply func()) {
		if c.given(name) {
			apply()
		}
	}
	set("name", func() { t.Name = *f.name })
	set("dataset", func() { t.DatasetID = int64(*f.dataset) })
	set("repository", func() { t.Git.Repository = *f.repository })
	set("branch", func() { t.Git.Branch = *f.branch })
	set("commit", func() { t.Git.Commit = *f.commit })
	set("image", func() { t.Image = *f.image })
	set("command", func() { t.Command = *f.command })
	set("partition", func() { t.Partition = *f.partition })
	set("memo", func() { t.Memo = *f.memo })
	set("time-limit", func() { t.TimeLimitMinutes = *f.timeLimit })
	set("sbatch", func() { t.SbatchOptions = f.sbatch.values })
	if !c.given("from") || c.given("cpu") {
		t.CPU = *f.cpu
	}
	if !c.given("from") || c.given("memory") {
		t.MemoryGB = *f.memory
	}
	if !c.given("from") || c.given("gpu") {
		t.GPU = *f.gpu
	}
	for _, kv := range f.env.values {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			return usagef("--env %q: expected NAME=VALUE", kv)
		}
		t.Env[name] = value
	}
	if c.given("parent") {
		t.ParentID, req.ParentIDs = nil, nil
		if k.parents {
			req.ParentIDs = parents
		} else {
			t.ParentID = &parents[0]
		}
	}
	var body any = req.TrainingRequest
	if k.parents {
		body = req
	}
	j, err := cl.CreateJob(ctx, k.collection, body)
	if err != nil {
		return err
	}
	if *c.json {
		return a.printJSON(k.shape(j))
	}
	fmt.Fprintf(a.stdout, "%d\n", j.ID)
	fmt.Fprintf(a.stderr, "%s %d %q is %s%s.\n", k.name, j.ID, j.Name, j.Status, reasonOf(&j.Job))
	return nil
}

// requestFrom is a job's settings as a new request (copy-run).
func requestFrom(j *apitypes.Inference) apitypes.InferenceRequest {
	env := map[string]string{}
	for _, e := range j.Env {
		env[e.Name] = e.Value
	}
	return apitypes.InferenceRequest{TrainingRequest: apitypes.TrainingRequest{
		Name: j.Name, DatasetID: j.DatasetID, ParentID: j.ParentID, Image: j.Image, Git: j.Git, Command: j.Command,
		CPU: j.CPU, MemoryGB: j.MemoryGB, GPU: j.GPU, Partition: j.Partition, Env: env, Memo: j.Memo,
		SbatchOptions: j.SbatchOptions, TimeLimitMinutes: j.TimeLimitMin}, ParentIDs: parentsAfterFirst(j)}
}

// parentsAfterFirst: an inference's answer has parent_id = parent_ids[0];
// sending both would name the first twice.
func parentsAfterFirst(j *apitypes.Inference) []int64 {
	if j.ParentID != nil && len(j.ParentIDs) > 0 {
		return j.ParentIDs[1:]
	}
	return j.ParentIDs
}

// shape is the job as its collection answers it: a training without the
// inference members.
func (k jobKind) shape(j *apitypes.Inference) any {
	if k.parents {
		return j
	}
	return &j.Job
}

func reasonOf(j *apitypes.Job) string {
	if j.Reason == "" {
		return ""
	}
	return " (" + j.Reason + ")"
}

func (k jobKind) resolve(a *app, c *command, args []string, min, max int) (int64, []string, *client.Client, error) {
	pos, err := c.parse(args, min, max)
	if err != nil {
		return 0, nil, nil, err
	}
	id, err := parseID("ID", pos[0])
	if err != nil {
		return 0, nil, nil, err
	}
	cl, err := a.client()
	return id, pos[1:], cl, err
}

func (k jobKind) list(a *app, ctx context.Context, args []string) error {
	c := newCommand(a, k.name+" list", "[--status S] [--tag T] [--name S] [--page N] [--per-page N] [--json]", "Lists "+k.name+"s, newest first.").withJSON()
	status := c.fs.String("status", "", "only this status (queued, running, completed, failed, killed, error)")
	tag := c.fs.String("tag", "", "only with this tag")
	name := c.fs.String("name", "", "names containing this")
	page := c.fs.String("page", "", "page (from 1)")
	per := c.fs.String("per-page", "", "items per page")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	l, err := cl.ListJobs(ctx, k.collection, client.Query("status", *status, "tag", *tag, "name", *name, "page", *page, "per_page", *per))
	if err != nil {
		return err
	}
	if *c.json {
		if k.parents {
			return a.printJSON(l)
		}
		out := apitypes.List[apitypes.Job]{Items: []apitypes.Job{}, Total: l.Total}
		for _, j := range l.Items {
			out.Items = append(out.Items, j.Job)
		}
		return a.printJSON(out)
	}
	t := newTable(a.stdout, "ID", "NAME", "STATUS", "DATASET", "PARENTS", "CREATED", "ENDED")
	for _, j := range l.Items {
		parents := j.ParentIDs
		if !k.parents && j.ParentID != nil {
			parents = []int64{*j.ParentID}
		}
		t.row(j.ID, j.Name, j.Status, j.DatasetID, ids(parents), when(&j.CreatedAt), when(j.EndedAt))
	}
	return t.flush()
}

func ids(v []int64) string {
	if len(v) == 0 {
		return "-"
	}
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(s, ",")
}

func (k jobKind) show(a *app, ctx context.Context, args []string) error {
	c := newCommand(a, k.name+" show", "ID [--json]", "The "+k.name+"'s settings and status.").withJSON()
	id, _, cl, err := k.resolve(a, c, args, 1, 1)
	if err != nil {
		return err
	}
	j, err := cl.Job(ctx, k.collection, id)
	if err != nil {
		return err
	}
	if *c.json {
		return a.printJSON(k.shape(j))
	}
	w := a.stdout
	fmt.Fprintf(w, "ID:          %d\nName:        %s\nStatus:      %s%s\n", j.ID, j.Name, j.Status, reasonOf(&j.Job))
	if j.ExitCode != nil {
		fmt.Fprintf(w, "Exit code:   %d\n", *j.ExitCode)
	}
	fmt.Fprintf(w, "Slurm job:   %s on %s\nDataset:     %d\n", j.SlurmJobID, j.Node, j.DatasetID)
	if k.parents {
		fmt.Fprintf(w, "Parents:     %s\n", ids(j.ParentIDs))
		if j.Value != nil {
			fmt.Fprintf(w, "Value:       %g\n", *j.Value)
		}
	} else if j.ParentID != nil {
		fmt.Fprintf(w, "Parent:      %d\n", *j.ParentID)
	}
	fmt.Fprintf(w, "Image:       %s\nRepository:  %s %s %s\nCommand:     %s\nResources:   %d CPU, %d GiB, %d GPU, partition %s, time limit %d min\n",
		j.Image, j.Git.Repository, j.Git.Branch, j.Git.Commit, j.Command, j.CPU, j.MemoryGB, j.GPU, j.Partition, j.TimeLimitMin)
	for _, e := range j.Env {
		fmt.Fprintf(w, "Env:         %s=%s\n", e.Name, e.Value)
	}
	fmt.Fprintf(w, "Memo:        %s\nTags:        %s\nCreated:     %s by %s\nStarted:     %s\nEnded:       %s\n",
		j.Memo, strings.Join(j.Tags, ", "), when(&j.CreatedAt), j.CreatedBy, when(j.StartedAt), when(j.EndedAt))
	return nil
}

// pollEvery is how often logs -f and wait ask again.
const pollEvery = time.Second

func (k jobKind) logs(a *app, ctx context.Context, args []string) error {
	c := newCommand(a, k.name+" logs", "ID [-f]", "The job's log. With -f (--follow) it follows the log until the job ends.")
	follow := c.fs.Bool("f", false, "follow until the job ends")
	c.fs.BoolVar(follow, "follow", false, "follow until the job ends")
	id, _, cl, err := k.resolve(a, c, args, 1, 1)
	if err != nil {
		return err
	}
	var offset int64
	for {
		// The status is read before the log: once it says ended, a read
		// after it has all the log there will ever be.
		j, err := cl.Job(ctx, k.collection, id)
		if err != nil {
			return err
		}
		next, err := cl.LogFrom(ctx, k.collection, id, offset, a.stdout)
		if err != nil {
			return err
		}
		if !*follow || (j.Ended() && next == offset) {
			return nil
		}
		if next == offset {
			if err := sleep(ctx, pollEvery); err != nil {
				return err
			}
		}
		offset = next
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return errors.New("interrupted")
	case <-time.After(d):
		return nil
	}
}

func (k jobKind) wait(a *app, ctx context.Context, args []string) error {
	c := newCommand(a, k.name+" wait", "ID [--timeout DURATION] [--json]",
		"Waits until the job ends and prints its status. Exit code 0 if it completed, 1 otherwise.").withJSON()
	timeout := c.fs.Duration("timeout", 0, "give up after this long (e.g. 2h; 0: never), exit 1")
	id, _, cl, err := k.resolve(a, c, args, 1, 1)
	if err != nil {
		return err
	}
	var deadline time.Time
	if *timeout > 0 {
		deadline = time.Now().Add(*timeout)
	}
	for {
		j, err := cl.Job(ctx, k.collection, id)
		if err != nil {
			return err
		}
		if j.Ended() {
			if *c.json {
				a.printJSON(k.shape(j))
			} else {
				fmt.Fprintf(a.stdout, "%s%s\n", j.Status, reasonOf(&j.Job))
			}
			if j.Status != "completed" {
				return errExit1
			}
			return nil
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return fmt.Errorf("%s %d is still %s after %v", k.name, id, j.Status, *timeout)
		}
		if err := sleep(ctx, pollEvery); err != nil {
			return err
		}
	}
}

func (k jobKind) stop(a *app, ctx context.Context, args []string) error {
	c := newCommand(a, k.name+" stop", "ID", "Stops the job (queued or running).")
	id, _, cl, err := k.resolve(a, c, args, 1, 1)
	if err != nil {
		return err
	}
	return cl.StopJob(ctx, k.collection, id)
}

func (k jobKind) delete(a *app, ctx context.Context, args []string) error {
	c := newCommand(a, k.name+" delete", "ID", "Deletes an ended job and its files.")
	id, _, cl, err := k.resolve(a, c, args, 1, 1)
	if err != nil {
		return err
	}
	return cl.DeleteJob(ctx, k.collection, id)
}

func (k jobKind) script(a *app, ctx context.Context, args []string) error {
	c := newCommand(a, k.name+" script", "ID", "The exact batch script the job was submitted with.")
	id, _, cl, err := k.resolve(a, c, args, 1, 1)
	if err != nil {
		return err
	}
	s, err := cl.Script(ctx, k.collection, id)
	if err != nil {
		return err
	}
	fmt.Fprint(a.stdout, s)
	return nil
}

func (k jobKind) files(a *app, ctx context.Context, args []string) error {
	c := newCommand(a, k.name+" files", "ID [--json]", "The files the job wrote under /kqi/output (also while it runs).").withJSON()
	id, _, cl, err := k.resolve(a, c, args, 1, 1)
	if err != nil {
		return err
	}
	l, err := cl.Outputs(ctx, k.collection, id)
	if err != nil {
		return err
	}
	if *c.json {
		return a.printJSON(l)
	}
	for _, f := range l.Items {
		fmt.Fprintf(a.stdout, "%12d  %s\n", f.Size, f.Path)
	}
	return nil
}

func (k jobKind) download(a *app, ctx context.Context, args []string) error {
	c := newCommand(a, k.name+" download", "ID [PATH] [-o DIR]", "Downloads one output file (PATH, as files lists it) or all of them into DIR.")
	dir := c.fs.String("o", ".", "directory to write into")
	id, rest, cl, err := k.resolve(a, c, args, 1, 2)
	if err != nil {
		return err
	}
	l, err := cl.Outputs(ctx, k.collection, id)
	if err != nil {
		return err
	}
	var want []apitypes.Output
	var total int64
	for _, f := range l.Items {
		if len(rest) == 0 || f.Path == rest[0] {
			want, total = append(want, f), total+f.Size
		}
	}
	if len(want) == 0 {
		if len(rest) == 0 {
			return fmt.Errorf("%s %d has no output files", k.name, id)
		}
		return fmt.Errorf("%s %d has no output file %q", k.name, id, rest[0])
	}
	if err := checkDir(*dir); err != nil {
		return err
	}
	p := a.progress(total, "download", false)
	for _, f := range want {
		rel := f.Path
		if len(rest) == 1 {
			rel = rel[strings.LastIndex(rel, "/")+1:]
		}
		if _, err := fetch(ctx, cl, k.collection.OutputPath(id, f.Path), *dir, rel, p); err != nil {
			p.abort()
			return err
		}
	}
	p.done()
	return nil
}

func (k jobKind) edit(a *app, ctx context.Context, args []string) error {
	c := newCommand(a, k.name+" edit", "ID [--memo M] [--tag T]... [--favorite=true|false] [--json]", "Changes what is given; --tag replaces every tag.").withJSON()
	memo := c.fs.String("memo", "", "memo")
	tags := c.list("tag", "the tags (repeat, or comma-separate)", true)
	fav := c.fs.Bool("favorite", false, "mark as favorite")
	id, _, cl, err := k.resolve(a, c, args, 1, 1)
	if err != nil {
		return err
	}
	var p apitypes.JobPatch
	if c.given("memo") {
		p.Memo = memo
	}
	if c.given("tag") {
		v := append([]string{}, tags.values...)
		p.Tags = &v
	}
	if c.given("favorite") {
		p.Favorite = fav
	}
	j, err := cl.EditJob(ctx, k.collection, id, p)
	if err != nil {
		return err
	}
	if *c.json {
		return a.printJSON(k.shape(j))
	}
	return nil
}

func (k jobKind) attach(a *app, ctx context.Context, args []string) error {
	c := newCommand(a, k.name+" attach", "ID FILE... [--json]", "Uploads files into the job's /kqi/attach (read-only in the job).").withJSON()
	id, files, cl, err := k.resolve(a, c, args, 2, -1)
	if err != nil {
		return err
	}
	u := client.Upload{Files: files}
	size, err := u.Size()
	if err != nil {
		return err
	}
	p := a.progress(size, "upload", *c.json)
	u.Wrap = p.reader
	l, err := cl.Attach(ctx, k.collection, id, u)
	if err != nil {
		p.abort()
		return fmt.Errorf("attaching failed, nothing was kept: %v", err)
	}
	p.done()
	if *c.json {
		return a.printJSON(l)
	}
	return nil
}
