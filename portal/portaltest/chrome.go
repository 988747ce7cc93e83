package portaltest

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chrome starts Debian's headless Chromium for a browser test and returns
// a context that drives it. A missing Chromium fails the test: the dev
// cluster script installs it.
func Chrome(t testing.TB) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (scripts/dev-cluster.sh up installs it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// The first call starts the browser; it must not carry a deadline, or
	// the deadline would stop the browser itself.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// Screenshot saves the page as PNG under $KQI_SCREENSHOT_DIR (when set), so
// a person can look at what the test saw.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("KQI_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	file := filepath.Join(dir, filepath.FromSlash(name)+".png")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		t.Fatal(err)
	}
}

// DocScreenshot captures the page as name.png for the README: into the
// directory $KQI_SCREENSHOTS names (`make screenshots` sets it to
// docs/screenshots), and otherwise into the test's temporary directory, so
// a plain `make test` leaves the clone's tree as it was. Either way the
// capture must have worked: a PNG as wide as the window and at least as
// tall. Also saved under $KQI_SCREENSHOT_DIR like Screenshot. A name may
// hold a slash (ja-800/home) to sort pictures into directories.
func DocScreenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("KQI_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	for i := 0; err != nil && i < 10; i++ { // a page reloading itself has no size for a moment
		time.Sleep(300 * time.Millisecond)
		shot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	}
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	size, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[window.innerWidth, window.innerHeight]`))
	if err != nil {
		t.Fatalf("screenshot %s: window size: %v", name, err)
	}
	img, err := png.DecodeConfig(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot %s is no PNG: %v", name, err)
	}
	if img.Width != size[0] || img.Height < size[1] {
		t.Fatalf("screenshot %s is %dx%d, the window %dx%d", name, img.Width, img.Height, size[0], size[1])
	}
	file := filepath.Join(dir, filepath.FromSlash(name)+".png")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	Screenshot(t, ctx, name)
}
