package main

import (
	"context"
	"fmt"
	"strings"

	"kqi/portal/api/apitypes"
	"kqi/portal/client"
)

func preprocessGroup() group {
	return group{summary: "preprocesses: define, run over data, upload external results", verbs: map[string]verb{
		"create":         {summary: "define a preprocess", run: (*app).preCreate},
		"list":           {summary: "list preprocesses", run: (*app).preList},
		"show":           {summary: "a preprocess", run: (*app).preShow},
		"delete":         {summary: "delete a preprocess", run: (*app).preDelete},
		"run":            {summary: "run it in the cluster over data", run: (*app).preRun},
		"history":        {summary: "its runs, one entry per datum", run: (*app).preHistory},
		"delete-history": {summary: "delete an entry and the data it made", run: (*app).preDeleteHistory},
		"upload":         {summary: "external workflow: open an entry, upload a result, complete it", run: (*app).preUpload},
	}}
}

func (a *app) preCreate(ctx context.Context, args []string) error {
	c := newCommand(a, "preprocess create", "--name N --command CMD [--repository R] [--branch B] [--commit C] [--image I] [--cpu N] [--memory GIB] [--gpu N] [--memo M] [--json]",
		"Defines a preprocess.").withJSON()
	var r apitypes.PreprocessRequest
	c.fs.StringVar(&r.Name, "name", "", "name")
	c.fs.StringVar(&r.Command, "command", "", "command to run")
	c.fs.StringVar(&r.Git.Repository, "repository", "", "model repository")
	c.fs.StringVar(&r.Git.Branch, "branch", "", "branch")
	c.fs.StringVar(&r.Git.Commit, "commit", "", "commit")
	c.fs.StringVar(&r.Image, "image", "", "container image")
	c.fs.IntVar(&r.CPU, "cpu", 1, "CPU cores")
	c.fs.IntVar(&r.MemoryGB, "memory", 1, "memory in GiB")
	c.fs.IntVar(&r.GPU, "gpu", 0, "GPUs")
	c.fs.StringVar(&r.Memo, "memo", "", "memo")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if err := c.require("name", "command"); err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	p, err := cl.CreatePreprocess(ctx, r)
	if err != nil {
		return err
	}
	if *c.json {
		return a.printJSON(p)
	}
	fmt.Fprintf(a.stdout, "%d\n", p.ID)
	return nil
}

func (a *app) preList(ctx context.Context, args []string) error {
	c := newCommand(a, "preprocess list", "[--name S] [--json]", "Lists preprocesses.").withJSON()
	name := c.fs.String("name", "", "names containing this")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	l, err := cl.ListPreprocesses(ctx, client.Query("name", *name))
	if err != nil {
		return err
	}
	if *c.json {
		return a.printJSON(l)
	}
	t := newTable(a.stdout, "ID", "NAME", "COMMAND", "LOCKED", "CREATED")
	for _, p := range l.Items {
		t.row(p.ID, p.Name, p.Command, p.Locked, when(&p.CreatedAt))
	}
	return t.flush()
}

func preID(c *command, args []string, min, max int) (int64, []string, error) {
	pos, err := c.parse(args, min, max)
	if err != nil {
		return 0, nil, err
	}
	id, err := parseID("ID", pos[0])
	return id, pos[1:], err
}

func (a *app) preShow(ctx context.Context, args []string) error {
	c := newCommand(a, "preprocess show", "ID [--json]", "A preprocess.").withJSON()
	id, _, err := preID(c, args, 1, 1)
	if err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	p, err := cl.Preprocess(ctx, id)
	if err != nil {
		return err
	}
	if *c.json {
		return a.printJSON(p)
	}
	fmt.Fprintf(a.stdout, "ID:          %d\nName:        %s\nCommand:     %s\nImage:       %s\nRepository:  %s %s %s\nResources:   %d CPU, %d GiB, %d GPU\nLocked:      %v\nMemo:        %s\n",
		p.ID, p.Name, p.Command, p.Image, p.Git.Repository, p.Git.Branch, p.Git.Commit, p.CPU, p.MemoryGB, p.GPU, p.Locked, p.Memo)
	return nil
}

func (a *app) preDelete(ctx context.Context, args []string) error {
	c := newCommand(a, "preprocess delete", "ID", "Deletes a preprocess.")
	id, _, err := preID(c, args, 1, 1)
	if err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	return cl.DeletePreprocess(ctx, id)
}

func (a *app) preRun(ctx context.Context, args []string) error {
	c := newCommand(a, "preprocess run", "ID --data ID... [--env K=V]... [--partition P] [--cpu N] [--memory GIB] [--gpu N] [--json]",
		"Runs the preprocess in the cluster over each datum (one Slurm job array).").withJSON()
	data := c.list("data", "a datum to run over (repeat, or comma-separate)", true)
	env := c.list("env", "K=V (repeat)", false)
	var r apitypes.RunRequest
	c.fs.StringVar(&r.Partition, "partition", "", "partition")
	cpu, mem, gpu := c.fs.Int("cpu", 0, "CPU cores (default: the preprocess's)"), c.fs.Int("memory", 0, "memory in GiB"), c.fs.Int("gpu", 0, "GPUs")
	id, _, err := preID(c, args, 1, 1)
	if err != nil {
		return err
	}
	if err := c.require("data"); err != nil {
		return err
	}
	if r.DataIDs, err = parseIDs("--data", data.values); err != nil {
		return err
	}
	r.Env = map[string]string{}
	for _, kv := range env.values {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return usagef("--env %q: expected NAME=VALUE", kv)
		}
		r.Env[k] = v
	}
	if c.given("cpu") {
		r.CPU = cpu
	}
	if c.given("memory") {
		r.MemoryGB = mem
	}
	if c.given("gpu") {
		r.GPU = gpu
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	l, err := cl.RunPreprocess(ctx, id, r)
	if err != nil {
		return err
	}
	if *c.json {
		return a.printJSON(l)
	}
	return a.historyTable(l.Items)
}

func (a *app) historyTable(items []apitypes.History) error {
	t := newTable(a.stdout, "DATA", "NAME", "STATUS", "EXTERNAL", "OUTPUTS", "JOB", "CREATED")
	for _, h := range items {
		status := h.Status
		if h.Reason != "" {
			status += " (" + h.Reason + ")"
		}
		t.row(h.DataID, h.DataName, status, h.External, ids(h.OutputDataIDs), h.SlurmJobID, when(&h.CreatedAt))
	}
	return t.flush()
}

func (a *app) preHistory(ctx context.Context, args []string) error {
	c := newCommand(a, "preprocess history", "ID [DATA] [--json]", "The preprocess's history (or one datum's entry).").withJSON()
	id, rest, err := preID(c, args, 1, 2)
	if err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	var items []apitypes.History
	if len(rest) == 1 {
		dataID, err := parseID("DATA", rest[0])
		if err != nil {
			return err
		}
		h, err := cl.History(ctx, id, dataID)
		if err != nil {
			return err
		}
		if *c.json {
			return a.printJSON(h)
		}
		items = []apitypes.History{*h}
	} else {
		l, err := cl.Histories(ctx, id, "")
		if err != nil {
			return err
		}
		if *c.json {
			return a.printJSON(l)
		}
		items = l.Items
	}
	return a.historyTable(items)
}

func (a *app) preDeleteHistory(ctx context.Context, args []string) error {
	c := newCommand(a, "preprocess delete-history", "ID DATA", "Deletes one history entry and the data it made.")
	id, rest, err := preID(c, args, 2, 2)
	if err != nil {
		return err
	}
	dataID, err := parseID("DATA", rest[0])
	if err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	return cl.DeleteHistory(ctx, id, dataID)
}

func (a *app) preUpload(ctx context.Context, args []string) error {
	c := newCommand(a, "preprocess upload", "ID --data ID --name NEWNAME FILE... [--json]",
		"The external workflow: opens the datum's history entry, uploads FILE... as the result NEWNAME, and completes\nthe entry (the result becomes a datum). A failed upload leaves the entry open and the result unregistered.").withJSON()
	data := c.fs.Int64("data", 0, "the datum that was preprocessed")
	name := c.fs.String("name", "", "name of the result datum")
	id, files, err := preID(c, args, 2, -1)
	if err != nil {
		return err
	}
	if err := c.require("data", "name"); err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	u := client.Upload{Files: files}
	size, err := u.Size()
	if err != nil {
		return err
	}
	if _, err := cl.OpenHistory(ctx, id, *data); err != nil {
		return fmt.Errorf("opening the entry: %v", err)
	}
	p := a.progress(size, "upload", *c.json)
	u.Wrap = p.reader
	if _, err := cl.UploadOutput(ctx, id, *data, *name, u); err != nil {
		p.abort()
		return fmt.Errorf("upload failed, nothing was registered (the entry stays open): %v", err)
	}
	p.done()
	h, err := cl.CompleteHistory(ctx, id, *data)
	if err != nil {
		return fmt.Errorf("completing the entry: %v", err)
	}
	if *c.json {
		return a.printJSON(h)
	}
	fmt.Fprintln(a.stdout, ids(h.OutputDataIDs))
	return nil
}
