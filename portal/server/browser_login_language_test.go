package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"kqi/portal/i18n"
	"kqi/portal/portaltest"
)

// The language picked on the login page wins over the one saved in the
// user's settings for that login, and becomes the saved one: picked
// Japanese over a saved English, then English over a saved Japanese.
func TestBrowserLoginLanguageWins(t *testing.T) {
	env := portaltest.New(t)
	env.Tenant(t, "vision")
	alice := env.User(t, "alice", "correct-horse-9", false, "vision")
	bob := env.User(t, "bob", "correct-horse-9", false, "vision")
	ctx0 := context.Background()
	if err := env.Store.SetLanguage(ctx0, bob.ID, "ja"); err != nil {
		t.Fatal(err)
	}
	browser := portaltest.Chrome(t)
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	for _, tc := range []struct {
		user, saved, pick string
		userID            int64
	}{
		{"alice", "en", "ja", alice.ID},
		{"bob", "ja", "en", bob.ID},
	} {
		// The login page may be in the picked language already: the page
		// the click loads is told from it by a mark set on the old one.
		err := chromedp.Do(ctx,
			chromedp.Navigate(env.URL+"/login"),
			chromedp.WaitVisible(`button[name="lang"][value="`+tc.pick+`"]`),
			chromedp.Evaluate[chromedp.Void](`document.documentElement.dataset.before = "1"`),
			chromedp.Click(`button[name="lang"][value="`+tc.pick+`"]`),
			chromedp.WaitVisible(`html[lang="`+tc.pick+`"]:not([data-before]) #login-submit`),
			chromedp.SendKeys("#username", tc.user),
			chromedp.SendKeys("#password", "correct-horse-9"),
			chromedp.Click("#login-submit"),
			chromedp.WaitVisible("#current-tenant"),
		)
		if err != nil {
			t.Fatalf("%s: pick %s and log in: %v", tc.user, tc.pick, err)
		}
		if tc.pick == "ja" {
			portaltest.Screenshot(t, ctx, "login-language-ja-home")
		}
		lang, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
		if err != nil || lang != tc.pick {
			t.Errorf("%s (saved %s) picked %s on the login page: the home page is in %q (%v)", tc.user, tc.saved, tc.pick, lang, err)
		}
		if got := text("h1"); got != i18n.T(tc.pick, "home.title") {
			t.Errorf("%s: the heading reads %q", tc.user, got)
		}
		if u, _ := env.Store.UserByID(ctx0, tc.userID); u.Language != tc.pick {
			t.Errorf("%s: the saved language is %q, want the one picked, %q", tc.user, u.Language, tc.pick)
		}
		// Another page of the same login stays in the picked language.
		if err := chromedp.Do(ctx, chromedp.Navigate(env.URL+"/settings"), chromedp.WaitVisible(`html[lang="`+tc.pick+`"] #current-user`)); err != nil {
			t.Errorf("%s: the settings page is not in %s: %v", tc.user, tc.pick, err)
		}
		if err := chromedp.Do(ctx, chromedp.Click("#user-menu summary"), chromedp.WaitVisible("#logout"), chromedp.Click("#logout"), chromedp.WaitVisible("#login-submit")); err != nil {
			t.Fatalf("%s: log out: %v", tc.user, err)
		}
	}
}
