package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"kqi/portal/portaltest"
	"kqi/storage"
)

func TestLineagePages(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "lab")
	other := env.Tenant(t, "other")
	alice := env.User(t, "alice", pw, false, "lab")
	bob := env.User(t, "bob", pw, false, "other")
	c := env.LineageChain(t, lab.ID, alice.ID)
	theirs := env.LineageChain(t, other.ID, bob.ID)
	// A sibling (another training on the same dataset) is neither where
	// the inference came from nor made from it.
	sibling, err := env.Store.CreateJob(context.Background(), storage.NewJob{TenantID: lab.ID, Kind: "training", Name: "sibling-run", DatasetID: c.Dataset,
		Image: "host", Command: "true", CPU: 1, MemoryGB: 1, Partition: "cpu", CreatedBy: alice.ID})
	if err != nil {
		t.Fatal(err)
	}
	b := env.Browser(t)
	b.Login("alice", pw)
	links := map[string]string{
		"raw":       fmt.Sprintf(`href="/data/%d"`, c.Raw),
		"run":       fmt.Sprintf(`href="/preprocessing/%d/histories"`, c.Preprocess),
		"processed": fmt.Sprintf(`href="/data/%d"`, c.Processed),
		"dataset":   fmt.Sprintf(`href="/datasets/%d"`, c.Dataset),
		"training":  fmt.Sprintf(`href="/trainings/%d"`, c.Training.ID),
		"child":     fmt.Sprintf(`href="/trainings/%d"`, c.ChildTraining.ID),
		"inference": fmt.Sprintf(`href="/inferences/%d"`, c.Inference.ID),
	}
	for _, tc := range []struct {
		path, focus string
		want        []string
		not         []string
	}{
		{fmt.Sprintf("/inferences/%d/lineage", c.Inference.ID), fmt.Sprintf("job-%d", c.Inference.ID), []string{"raw", "run", "processed", "dataset", "training", "child", "inference"}, nil},
		{fmt.Sprintf("/data/%d/lineage", c.Raw), fmt.Sprintf("data-%d", c.Raw), []string{"raw", "run", "processed", "dataset", "training", "child", "inference"}, nil},
		{fmt.Sprintf("/datasets/%d/lineage", c.Dataset), fmt.Sprintf("dataset-%d", c.Dataset), []string{"raw", "dataset", "training", "inference"}, nil},
		{fmt.Sprintf("/trainings/%d/lineage", c.ChildTraining.ID), fmt.Sprintf("job-%d", c.ChildTraining.ID), []string{"raw", "training", "child", "inference"}, nil},
	} {
		t.Run(tc.path, func(t *testing.T) {
			p := b.Get(tc.path)
			if p.Status != http.StatusOK {
				t.Fatalf("status %d", p.Status)
			}
			for _, w := range tc.want {
				if !strings.Contains(p.Body, links[w]) {
					t.Errorf("no link to the %s (%s)", w, links[w])
				}
			}
			if !strings.Contains(p.Body, `lineage-focus" data-node="`+tc.focus+`"`) {
				t.Errorf("focus %s not marked", tc.focus)
			}
			for _, leak := range []string{"sibling-run", fmt.Sprintf(`href="/data/%d"`, theirs.Raw)} {
				// Raw data and the dataset were used by the sibling too.
				if strings.Contains(p.Body, leak) && (leak != "sibling-run" || strings.HasPrefix(tc.path, "/inferences/") || strings.HasPrefix(tc.path, "/trainings/")) {
					t.Errorf("shows %s", leak)
				}
			}
		})
	}
	// The dataset's picture shows both trainings made from it.
	if p := b.Get(fmt.Sprintf("/datasets/%d/lineage", c.Dataset)); !strings.Contains(p.Body, fmt.Sprintf(`href="/trainings/%d"`, sibling.ID)) {
		t.Error("the dataset's lineage lacks a training made from it")
	}
	t.Run("alone", func(t *testing.T) {
		id, _ := env.Store.NextDataID(context.Background())
		env.Store.CreateData(context.Background(), storage.NewData{ID: id, TenantID: lab.ID, Name: "lonely", CreatedBy: alice.ID})
		p := b.Get(fmt.Sprintf("/data/%d/lineage", id))
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="lineage-alone"`) || strings.Count(p.Body, "data-node=") != 1 {
			t.Fatalf("status %d:\n%s", p.Status, p.Body)
		}
	})
	t.Run("not-found", func(t *testing.T) {
		for _, path := range []string{
			fmt.Sprintf("/inferences/%d/lineage", theirs.Inference.ID), // another tenant's
			fmt.Sprintf("/data/%d/lineage", theirs.Raw),
			fmt.Sprintf("/inferences/%d/lineage", c.Training.ID), // a training is no inference
			fmt.Sprintf("/trainings/%d/lineage", c.Inference.ID),
			"/datasets/987654321/lineage",
		} {
			if p := b.Get(path); p.Status != http.StatusNotFound || strings.Contains(p.Body, "raw-scans") {
				t.Errorf("GET %s: %d", path, p.Status)
			}
		}
	})
	t.Run("links-from-pages", func(t *testing.T) {
		for path, link := range map[string]string{
			fmt.Sprintf("/data/%d", c.Raw):                fmt.Sprintf(`/data/%d/lineage`, c.Raw),
			fmt.Sprintf("/datasets/%d", c.Dataset):        fmt.Sprintf(`/datasets/%d/lineage`, c.Dataset),
			fmt.Sprintf("/inferences/%d", c.Inference.ID): fmt.Sprintf(`/inferences/%d/lineage`, c.Inference.ID),
			fmt.Sprintf("/trainings/%d", c.Training.ID):   fmt.Sprintf(`/trainings/%d/lineage`, c.Training.ID),
		} {
			if p := b.Get(path); !strings.Contains(p.Body, `href="`+link+`"`) {
				t.Errorf("%s has no link to its lineage", path)
			}
		}
	})
}
