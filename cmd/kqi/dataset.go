package main

import (
	"context"
	"fmt"

	"kqi/portal/api/apitypes"
	"kqi/portal/client"
)

func datasetGroup() group {
	return group{summary: "make and list datasets", verbs: map[string]verb{
		"create": {summary: "make a dataset from data", run: (*app).datasetCreate},
		"list":   {summary: "list datasets", run: (*app).datasetList},
		"show":   {summary: "a dataset and its data", run: (*app).datasetShow},
		"copy":   {summary: "copy a dataset (an editable copy of a frozen one)", run: (*app).datasetCopy},
		"delete": {summary: "delete a dataset", run: (*app).datasetDelete},
	}}
}

func (a *app) datasetCreate(ctx context.Context, args []string) error {
	c := newCommand(a, "dataset create", "NAME [--training ID]... [--validation ID]... [--testing ID]... [--memo M] [--json]",
		"Makes a dataset of data in areas (ids may be repeated or comma-separated).").withJSON()
	memo := c.fs.String("memo", "", "memo")
	areas := map[string]*list{}
	for _, area := range []string{"training", "validation", "testing"} {
		areas[area] = c.list(area, "data id in the "+area+" area", true)
	}
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	req := apitypes.DatasetRequest{Name: pos[0], Memo: *memo, Entries: map[string][]int64{}}
	for area, l := range areas {
		ids, err := parseIDs("--"+area, l.values)
		if err != nil {
			return err
		}
		req.Entries[area] = ids
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	d, err := cl.CreateDataset(ctx, req)
	if err != nil {
		return err
	}
	return a.printDatasetID(d, *c.json)
}

func (a *app) printDatasetID(d *apitypes.Dataset, asJSON bool) error {
	if asJSON {
		return a.printJSON(d)
	}
	fmt.Fprintf(a.stdout, "%d\n", d.ID)
	return nil
}

func (a *app) datasetList(ctx context.Context, args []string) error {
	c := newCommand(a, "dataset list", "[--name S] [--page N] [--per-page N] [--json]", "Lists datasets, newest first.").withJSON()
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
	l, err := cl.ListDatasets(ctx, client.Query("name", *name, "page", *page, "per_page", *per))
	if err != nil {
		return err
	}
	if *c.json {
		return a.printJSON(l)
	}
	t := newTable(a.stdout, "ID", "NAME", "TRAINING", "VALIDATION", "TESTING", "FROZEN", "CREATED")
	for _, d := range l.Items {
		t.row(d.ID, d.Name, d.Counts["training"], d.Counts["validation"], d.Counts["testing"], d.Frozen, when(&d.CreatedAt))
	}
	return t.flush()
}

func (a *app) datasetShow(ctx context.Context, args []string) error {
	c := newCommand(a, "dataset show", "ID [--json]", "A dataset and the data in each area.").withJSON()
	_, id, err := c.parseID(args, 1, 1)
	if err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	d, err := cl.Dataset(ctx, id)
	if err != nil {
		return err
	}
	if *c.json {
		return a.printJSON(d)
	}
	fmt.Fprintf(a.stdout, "ID:       %d\nName:     %s\nMemo:     %s\nFrozen:   %v\nCreated:  %s by %s\n", d.ID, d.Name, d.Memo, d.Frozen, when(&d.CreatedAt), d.CreatedBy)
	for _, area := range []string{"training", "validation", "testing"} {
		fmt.Fprintf(a.stdout, "%-10s%v\n", area+":", d.Entries[area])
	}
	return nil
}

func (a *app) datasetCopy(ctx context.Context, args []string) error {
	c := newCommand(a, "dataset copy", "ID [--name N] [--json]", "Copies a dataset (default name: \"<name> (copy)\").").withJSON()
	name := c.fs.String("name", "", "the copy's name")
	_, id, err := c.parseID(args, 1, 1)
	if err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	d, err := cl.CopyDataset(ctx, id, *name)
	if err != nil {
		return err
	}
	return a.printDatasetID(d, *c.json)
}

func (a *app) datasetDelete(ctx context.Context, args []string) error {
	c := newCommand(a, "dataset delete", "ID...", "Deletes datasets (a frozen one cannot be).")
	pos, err := c.parse(args, 1, -1)
	if err != nil {
		return err
	}
	ids, err := parseIDs("ID", pos)
	if err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := cl.DeleteDataset(ctx, id); err != nil {
			return fmt.Errorf("dataset %d: %v", id, err)
		}
	}
	return nil
}
