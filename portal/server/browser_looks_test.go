package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"kqi/portal/jobs"
	"kqi/portal/portaltest"
	"kqi/slurm"
	"kqi/storage"
)

// overflowJS lists what sticks out: the page wider than the window, or a
// button, badge or table cell whose text does not fit inside it. Boxes
// that scroll on purpose (the log, previews, the lineage picture) are
// left out.
const overflowJS = `(() => {
  const bad = [], W = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > W + 1) bad.push("the page is " + document.documentElement.scrollWidth + " px wide");
  const what = e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.trim().split(/\s+/).join(".") : "") + " " + JSON.stringify(e.textContent.trim().slice(0, 40));
  for (const e of document.querySelectorAll("button, a.button, th, td, .status, .badge, h1, h2, legend, .card, .pager a, .flash, .notice, .mainnav a, .usermenu summary")) {
    if (e.closest(".scroll-x, .lineage-box, pre, .terminal") || !e.getClientRects().length) continue;
    if (e.scrollWidth > e.clientWidth + 1) bad.push(what(e) + " overflows itself (" + e.scrollWidth + " > " + e.clientWidth + ")");
    const r = e.getBoundingClientRect();
    if (r.right > W + 1) bad.push(what(e) + " reaches x=" + Math.round(r.right));
  }
  return bad;
})()`

// contrastJS lists text whose colour on its background falls below WCAG
// AA (4.5:1, 3:1 for large text): the words of badges, buttons, links,
// hints, table heads and the log. Backgrounds are blended up the tree.
const contrastJS = `(() => {
  const parse = s => {
    let m = s.match(/rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/);
    if (m) return [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]];
    m = s.match(/color\(srgb ([\d.]+) ([\d.]+) ([\d.]+)(?: \/ ([\d.]+))?\)/);
    if (m) return [m[1] * 255, m[2] * 255, m[3] * 255, m[4] === undefined ? 1 : +m[4]];
    return null;
  };
  const over = (top, below) => top.slice(0, 3).map((v, i) => v * top[3] + below[i] * (1 - top[3])).concat(1);
  const background = e => {
    const layers = [];
    for (let n = e; n && n.nodeType === 1; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    return layers.reduceRight((below, c) => over(c, below), [255, 255, 255, 1]);
  };
  const lum = c => { const l = c.slice(0, 3).map(v => { v /= 255; return v <= .03928 ? v / 12.92 : Math.pow((v + .055) / 1.055, 2.4); }); return .2126 * l[0] + .7152 * l[1] + .0722 * l[2]; };
  const bad = [];
  for (const e of document.querySelectorAll(".status, .badge, button, a, .hint, .reason, th, dt, label, .flash, .notice, p.error, p.empty, pre.log, .lead, .tenant-name, .user-name, h1, h2, td")) {
    if (!e.getClientRects().length || e.closest("svg") || e.matches(":disabled") || !e.textContent.trim()) continue;
    const st = getComputedStyle(e), fg = parse(st.color);
    if (!fg) continue;
    const bg = background(e), c = over(fg, bg);
    const ratio = (Math.max(lum(c), lum(bg)) + .05) / (Math.min(lum(c), lum(bg)) + .05);
    const size = parseFloat(st.fontSize), large = size >= 24 || (size >= 18.66 && +st.fontWeight >= 700);
    if (ratio < (large ? 3 : 4.5)) bad.push(e.tagName.toLowerCase() + "." + String(e.className).trim().split(/\s+/).join(".") + " " + JSON.stringify(e.textContent.trim().slice(0, 30)) + " " + ratio.toFixed(2) + ":1");
  }
  return [...new Set(bad)];
})()`

// Every main page, in English and Japanese, at 1280 and 800 px, keeps
// its words inside its buttons, badges and cells and needs no sideways
// scroll; the README's pictures of the list and of Japanese pages come
// from here.
func TestBrowserLooks(t *testing.T) {
	env := portaltest.New(t)
	lab := env.Tenant(t, "vision")
	env.Tenant(t, "speech")
	u := env.User(t, "alice", "correct-horse-9", true, "vision:admin", "speech")
	ctx0 := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	cpu, mem, gpu := 32, 128, 8
	must(env.Store.SetTenantQuota(ctx0, lab.ID, &cpu, &mem, &gpu))
	c := env.LineageChain(t, lab.ID, u.ID)
	for i, name := range []string{"mnist-train-2026-11", "cifar10-augmented", "speech-commands-v2"} {
		id, err := env.Store.NextDataID(ctx0)
		must(err)
		must(env.Store.CreateData(ctx0, storage.NewData{ID: id, TenantID: lab.ID, Name: name, CreatedBy: u.ID,
			Memo: "nightly export from the lab's NAS", Tags: []string{"raw", fmt.Sprintf("v%d", i+1)},
			Files: []storage.NewFile{{Name: "part-0000.tar", Size: 734003200}, {Name: "labels.csv", Size: 48213}}}))
	}
	// The chain's jobs never reached Slurm: show them ended.
	for i, j := range []*storage.Job{c.Training, c.ChildTraining, c.Inference} {
		code, ended := i, time.Now()
		must(env.Store.UpdateJobState(ctx0, j.ID, storage.JobState{Status: []string{"completed", "killed", "completed"}[i], ExitCode: &code, StartedAt: &ended, EndedAt: &ended}))
	}
	put := func(j *storage.Job, name, content string) {
		t.Helper()
		if _, err := env.Files.Put(ctx0, j.JobDir+"/"+name, strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
	}
	actor := jobs.Actor{TenantID: lab.ID, UserID: u.ID}
	submit := func(kind jobs.Kind, name string, gpus int, state, reason string, parents ...int64) *storage.Job {
		t.Helper()
		j, err := env.Jobs.Submit(ctx0, actor, kind, jobs.Request{Name: name, DatasetID: c.Dataset, ParentIDs: parents, CPU: 4, MemoryGB: 16, GPU: gpus,
			Partition: map[bool]string{true: "gpu-a100", false: "cpu"}[gpus > 0], Command: "python3 train.py --epochs 30 --lr 3e-4",
			Memo: "baseline with mixed precision"})
		must(err)
		put(j, "output/metrics.csv", "epoch,loss,accuracy\n1,0.92,0.71\n2,0.55,0.83\n3,0.41,0.88\n")
		put(j, slurm.LogFile, "[kqi] 2026-12-01T09:00:00+0000 cloning the model\nepoch 1 loss 0.92 accuracy 0.71\nepoch 2 loss 0.55 accuracy 0.83\nepoch 3 loss 0.41 accuracy 0.88\n")
		env.Fake.Set(j.SlurmJobID, func(i *slurm.JobInfo) {
			i.State, i.Reason = state, reason
			if state != "PENDING" {
				i.StartTime = time.Now().Add(-42 * time.Minute)
			}
		})
		switch state {
		case "COMPLETED":
			put(j, "output/"+jobs.ValueFile, "0.7612\n")
			put(j, slurm.ExitCodeFile, "0\n")
		case "FAILED":
			put(j, slurm.ExitCodeFile, "1\n")
		}
		must(env.Store.UpdateJobNotes(ctx0, lab.ID, j.ID, "baseline with mixed precision", []string{"resnet", "ablation"}, name == "resnet50-baseline"))
		return j
	}
	running := submit(jobs.Training, "resnet50-baseline", 2, "RUNNING", "")
	submit(jobs.Training, "vit-base-patch16-224-lr-sweep", 4, "PENDING", "Resources")
	done := submit(jobs.Training, "resnet50-mixed-precision", 1, "COMPLETED", "")
	submit(jobs.Training, "bert-finetune", 0, "FAILED", "NonZeroExitCode")
	inf := submit(jobs.Inference, "resnet50-eval-imagenet-val", 1, "COMPLETED", "", done.ID)
	submit(jobs.Inference, "resnet50-eval-corrupted", 0, "PENDING", "Priority", done.ID)
	must(env.Jobs.Poll(ctx0))

	pages := []struct{ name, path, ready string }{
		{"home", "/", "#home-live"},
		{"trainings", "/trainings", "#training-table"},
		{"training", fmt.Sprintf("/trainings/%d", running.ID), "#training-status"},
		{"training-new", "/trainings/new", "#training-form"},
		{"inferences", "/inferences", "#inference-table"},
		{"inference", fmt.Sprintf("/inferences/%d", inf.ID), "#inference-status"},
		{"data", "/data", "#data-table"},
		{"data-detail", fmt.Sprintf("/data/%d", c.Raw), "#data-title"},
		{"datasets", "/datasets", "#dataset-table"},
		{"dataset", fmt.Sprintf("/datasets/%d", c.Dataset), "h1"},
		{"preprocessing", "/preprocessing", "#preprocess-table"},
		{"lineage", fmt.Sprintf("/inferences/%d/lineage", inf.ID), "svg.lineage"},
		{"settings", "/settings", "#tokens"},
		{"members", "/members", "h1"},
		{"admin-tenants", "/admin/tenants", "#tenant-table"},
		{"admin-users", "/admin/users", "#user-table"},
	}
	// The pictures the README shows; the others go to $KQI_SCREENSHOT_DIR.
	docs := map[string]string{"en-1280/trainings": "trainings", "en-1280/data": "data-list",
		"ja-1280/home": "ja-1280/home", "ja-1280/training": "ja-1280/training", "ja-800/trainings": "ja-800/trainings", "en-800/home": "en-800/home"}

	browser := portaltest.Chrome(t)
	ctx, cancel := context.WithTimeout(browser, 6*time.Minute)
	defer cancel()
	// open loads a page and waits for its ready element. A load that
	// hangs (seen once in Chromium on a loaded CI machine, never alone) is
	// tried once more rather than eating the whole test's deadline.
	open := func(t *testing.T, path, ready string) {
		t.Helper()
		var err error
		for try := 1; try <= 2; try++ {
			actx, acancel := context.WithTimeout(ctx, 45*time.Second)
			err = chromedp.Do(actx, chromedp.Navigate(env.URL+path), chromedp.WaitVisible(ready))
			acancel()
			if err == nil {
				return
			}
			t.Logf("open %s (try %d): %v", path, try, err)
			// Stop what is still loading, so it cannot abort the next try.
			_ = chromedp.Do(ctx, chromedp.Stop())
			time.Sleep(time.Second)
		}
		t.Fatalf("open %s: %v", path, err)
	}
	look := func(t *testing.T, name string) {
		t.Helper()
		bad, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](overflowJS))
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) > 0 {
			t.Errorf("%s:\n%s", name, strings.Join(bad, "\n"))
		}
		checkContrast(t, ctx)
		portaltest.Screenshot(t, ctx, name)
	}
	t.Run("login", func(t *testing.T) {
		must(chromedp.Do(ctx, chromedp.Navigate(env.URL+"/login"), chromedp.WaitVisible("#login-submit")))
		look(t, "en-1280/login")
	})
	must(chromedp.Do(ctx, logIn(env, "alice", "correct-horse-9")))
	// A flash after a change, and a refused form with its field errors.
	t.Run("flash", func(t *testing.T) {
		must(chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("%s/data/%d", env.URL, c.Raw)), chromedp.WaitVisible("#data-title"),
			chromedp.Click(`form.stack button[type=submit]`), chromedp.WaitVisible(".flash")))
		look(t, "en-1280/flash")
	})
	t.Run("form-errors", func(t *testing.T) {
		must(chromedp.Do(ctx, chromedp.Navigate(env.URL+"/trainings/new"), chromedp.WaitVisible("#training-form"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("training-form").noValidate = true`),
			chromedp.Click("#training-submit"), chromedp.WaitVisible("#form-error")))
		look(t, "en-1280/form-errors")
	})
	t.Run("user-menu", func(t *testing.T) {
		must(chromedp.Do(ctx, chromedp.Navigate(env.URL+"/"), chromedp.WaitVisible("#home-live"),
			chromedp.Click("#user-menu summary"), chromedp.WaitVisible("#logout")))
		look(t, "en-1280/user-menu")
	})
	// Readers who ask for a dark scheme get one, as readable.
	must(chromedp.Do(ctx, colorScheme("dark")))
	for _, p := range pages {
		t.Run("dark/"+p.name, func(t *testing.T) {
			open(t, p.path, p.ready)
			checkContrast(t, ctx)
			if p.name == "home" || p.name == "training" {
				portaltest.DocScreenshot(t, ctx, "dark/"+p.name)
			} else {
				portaltest.Screenshot(t, ctx, "dark/"+p.name)
			}
		})
	}
	must(chromedp.Do(ctx, colorScheme("light")))
	for _, lang := range []string{"en", "ja"} {
		must(env.Store.SetLanguage(ctx0, u.ID, lang))
		for _, width := range []int64{1280, 800} {
			must(chromedp.Do(ctx, chromedp.EmulateViewport(width, 900)))
			for _, p := range pages {
				name := fmt.Sprintf("%s-%d/%s", lang, width, p.name)
				t.Run(name, func(t *testing.T) {
					open(t, p.path, p.ready)
					if got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`)); got != lang {
						t.Fatalf("the page is in %q", got)
					}
					bad, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](overflowJS))
					if err != nil {
						t.Fatal(err)
					}
					if len(bad) > 0 {
						portaltest.Screenshot(t, ctx, name+"-overflow")
						t.Errorf("%s at %d px:\n%s", p.path, width, strings.Join(bad, "\n"))
					}
					if width == 1280 {
						checkContrast(t, ctx)
					}
					if doc, ok := docs[name]; ok {
						portaltest.DocScreenshot(t, ctx, doc)
					} else {
						portaltest.Screenshot(t, ctx, name)
					}
				})
			}
		}
	}
}

func checkContrast(t *testing.T, ctx context.Context) {
	t.Helper()
	low, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](contrastJS))
	if err != nil {
		t.Fatal(err)
	}
	if len(low) > 0 {
		t.Errorf("text below WCAG AA contrast:\n%s", strings.Join(low, "\n"))
	}
}

// colorScheme makes the page see prefers-color-scheme as scheme.
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	})
}
