package main

import (
	"context"
	"fmt"
	"strings"

	"kqi/portal/api/apitypes"
	"kqi/portal/client"
)

func dataGroup() group {
	return group{summary: "upload, list, download and edit data", verbs: map[string]verb{
		"upload":   {summary: "register files as a new datum", run: (*app).dataUpload},
		"list":     {summary: "list data", run: (*app).dataList},
		"show":     {summary: "a datum and its files", run: (*app).dataShow},
		"download": {summary: "download a datum's files (or one)", run: (*app).dataDownload},
		"edit":     {summary: "change name, memo or tags; add or remove files", run: (*app).dataEdit},
		"delete":   {summary: "delete a datum and its files", run: (*app).dataDelete},
	}}
}

func (a *app) dataUpload(ctx context.Context, args []string) error {
	c := newCommand(a, "data upload", "NAME FILE... [--memo M] [--tag T]... [--json]",
		"Streams the files to the portal as one new datum. It is registered only when every byte has arrived:\na failed upload leaves nothing registered.").withJSON()
	memo := c.fs.String("memo", "", "memo")
	tags := c.list("tag", "a tag (repeat, or comma-separate)", true)
	pos, err := c.parse(args, 2, -1)
	if err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	u := client.Upload{Files: pos[1:]}
	size, err := u.Size()
	if err != nil {
		return err
	}
	p := a.progress(size, "upload", *c.json)
	u.Wrap = p.reader
	d, err := cl.CreateData(ctx, pos[0], *memo, tags.values, u)
	if err != nil {
		p.abort()
		return fmt.Errorf("upload failed, nothing was registered: %v", err)
	}
	p.done()
	if *c.json {
		return a.printJSON(d)
	}
	fmt.Fprintf(a.stdout, "%d\n", d.ID)
	fmt.Fprintf(a.stderr, "Registered datum %d %q: %d files, %d bytes.\n", d.ID, d.Name, d.FileCount, d.TotalSize)
	return nil
}

func (a *app) dataList(ctx context.Context, args []string) error {
	c := newCommand(a, "data list", "[--name S] [--tag T] [--page N] [--per-page N] [--json]", "Lists data, newest first.").withJSON()
	name := c.fs.String("name", "", "names containing this")
	tag := c.fs.String("tag", "", "with this tag")
	page := c.fs.String("page", "", "page (from 1)")
	per := c.fs.String("per-page", "", "items per page (at most 1000)")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	l, err := cl.ListData(ctx, client.Query("name", *name, "tag", *tag, "page", *page, "per_page", *per))
	if err != nil {
		return err
	}
	if *c.json {
		return a.printJSON(l)
	}
	t := newTable(a.stdout, "ID", "NAME", "FILES", "BYTES", "TAGS", "CREATED")
	for _, d := range l.Items {
		t.row(d.ID, d.Name, d.FileCount, d.TotalSize, strings.Join(d.Tags, ","), when(&d.CreatedAt))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if l.Total > len(l.Items) {
		fmt.Fprintf(a.stderr, "%d of %d shown (--page, --per-page)\n", len(l.Items), l.Total)
	}
	return nil
}

func (a *app) dataShow(ctx context.Context, args []string) error {
	c := newCommand(a, "data show", "ID [--json]", "A datum and its files.").withJSON()
	_, id, err := c.parseID(args, 1, 1)
	if err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	d, err := cl.Data(ctx, id)
	if err != nil {
		return err
	}
	if *c.json {
		return a.printJSON(d)
	}
	fmt.Fprintf(a.stdout, "ID:       %d\nName:     %s\nMemo:     %s\nTags:     %s\nFrozen:   %v\nCreated:  %s by %s\nFiles:\n",
		d.ID, d.Name, d.Memo, strings.Join(d.Tags, ", "), d.Frozen, when(&d.CreatedAt), d.CreatedBy)
	for _, f := range d.Files {
		fmt.Fprintf(a.stdout, "  %12d  %s\n", f.Size, f.Name)
	}
	return nil
}

func (a *app) dataDownload(ctx context.Context, args []string) error {
	c := newCommand(a, "data download", "ID [FILE] [-o DIR]", "Downloads every file of the datum (or FILE) into DIR.")
	dir := c.fs.String("o", ".", "directory to write into")
	pos, id, err := c.parseID(args, 1, 2)
	if err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	d, err := cl.Data(ctx, id)
	if err != nil {
		return err
	}
	var want []apitypes.File
	var total int64
	for _, f := range d.Files {
		if len(pos) == 1 || f.Name == pos[1] {
			want, total = append(want, f), total+f.Size
		}
	}
	if len(want) == 0 {
		return fmt.Errorf("datum %d has no file %q", id, pos[1])
	}
	if err := checkDir(*dir); err != nil {
		return err
	}
	p := a.progress(total, "download", false)
	for _, f := range want {
		if _, err := fetch(ctx, cl, client.DataFilePath(id, f.Name), *dir, f.Name, p); err != nil {
			p.abort()
			return err
		}
	}
	p.done()
	return nil
}

func (a *app) dataEdit(ctx context.Context, args []string) error {
	c := newCommand(a, "data edit", "ID [--name N] [--memo M] [--tag T]... [--add FILE]... [--remove NAME]... [--json]",
		"Changes what is given: --tag replaces every tag (--tag '' clears them); --add uploads files, --remove deletes them.").withJSON()
	name := c.fs.String("name", "", "new name")
	memo := c.fs.String("memo", "", "new memo")
	tags := c.list("tag", "the tags (repeat, or comma-separate); replaces them", true)
	add := c.list("add", "a file to add (repeat)", false)
	remove := c.list("remove", "a file name to remove (repeat)", false)
	_, id, err := c.parseID(args, 1, 1)
	if err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	var patch apitypes.DataPatch
	if c.given("name") {
		patch.Name = name
	}
	if c.given("memo") {
		patch.Memo = memo
	}
	if c.given("tag") {
		v := append([]string{}, tags.values...)
		patch.Tags = &v
	}
	if patch != (apitypes.DataPatch{}) {
		if _, err := cl.EditData(ctx, id, patch); err != nil {
			return err
		}
	}
	if len(add.values) > 0 {
		u := client.Upload{Files: add.values}
		size, err := u.Size()
		if err != nil {
			return err
		}
		p := a.progress(size, "upload", *c.json)
		u.Wrap = p.reader
		if _, err := cl.AddDataFiles(ctx, id, u); err != nil {
			p.abort()
			return fmt.Errorf("adding files failed, none was added: %v", err)
		}
		p.done()
	}
	for _, n := range remove.values {
		if err := cl.RemoveDataFile(ctx, id, n); err != nil {
			return fmt.Errorf("removing %s: %v", n, err)
		}
	}
	d, err := cl.Data(ctx, id)
	if err != nil {
		return err
	}
	if *c.json {
		return a.printJSON(d)
	}
	fmt.Fprintf(a.stderr, "Datum %d: %q, %d files.\n", d.ID, d.Name, d.FileCount)
	return nil
}

func (a *app) dataDelete(ctx context.Context, args []string) error {
	c := newCommand(a, "data delete", "ID...", "Deletes data and their files.")
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
		if err := cl.DeleteData(ctx, id); err != nil {
			return fmt.Errorf("datum %d: %v", id, err)
		}
	}
	return nil
}
