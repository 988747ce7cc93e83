package server_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// globalVars are route variables that name things every tenant shares
// (registered Git servers and registries), not a tenant's: another
// tenant's user may rightly find them.
var globalVars = map[string]bool{"credentials.kind": true, "credentials.id": true}

// Every route that takes an id, called by another tenant's admin with a
// real id of the lab's, answers exactly as it does for an id that does not
// exist, and changes nothing of the lab's. The routes come from the
// router, so a route added later is held to it too.
func TestAnotherTenantsIDIsAMissingID(t *testing.T) {
	w := newWorld(t)
	routes := routesOf(t, w.env.Router)
	eve := newTenantCaller(t, w, w.other)
	checked := 0
	for _, r := range routes {
		var ids []string
		for _, v := range r.vars {
			if !globalVars[r.collection()+"."+v] && v == "id" {
				ids = append(ids, v)
			}
		}
		if len(ids) == 0 {
			continue
		}
		theirs := r.build(func(v string) string { return w.fill(t, r, w.lab, v) })
		missing := r.build(func(v string) string {
			if v == "id" {
				return missingID
			}
			return w.fill(t, r, w.lab, v)
		})
		a, b := eve.call(t, r, theirs), eve.call(t, r, missing)
		// The answer may name the id it was asked for; nothing else may differ.
		a.body = strings.ReplaceAll(a.body, theirs, missing)
		if a.status != b.status || a.location != b.location || a.body != b.body {
			t.Errorf("%s: another tenant's id answers %d %q, a missing one %d %q\n%s\n---\n%s", r, a.status, a.location, b.status, b.location, a.body, b.body)
		}
		if a.status < 400 {
			t.Errorf("%s: another tenant's id answers %d", r, a.status)
		}
		checked++
	}
	if checked < 30 {
		t.Fatalf("only %d routes with ids checked", checked)
	}
	// Nothing of the lab's was touched.
	ctx := context.Background()
	lab := w.lab
	if _, err := w.env.Store.DataByID(ctx, lab.tenant.ID, lab.data.ID); err != nil {
		t.Errorf("lab's data: %v", err)
	}
	if d, err := w.env.Store.DatasetByID(ctx, lab.tenant.ID, lab.dataset); err != nil || d.Name != "lab-set" {
		t.Errorf("lab's dataset: %v", err)
	}
	for name, j := range lab.jobs {
		got, err := w.env.Store.JobByID(ctx, lab.tenant.ID, j.ID)
		if err != nil || got.Memo != j.Memo || got.StopRequested {
			t.Errorf("lab's %s: %v", name, err)
		}
	}
	if _, err := w.env.Store.Membership(ctx, lab.member.ID, lab.tenant.ID); err != nil {
		t.Errorf("lab's member: %v", err)
	}
}

// tenantCaller calls routes as one tenant's admin.
type tenantCaller struct {
	w      *world
	client *http.Client
	csrf   string
	token  string
}

func newTenantCaller(t *testing.T, w *world, o *tenantObjects) *tenantCaller {
	b := w.env.Browser(t)
	b.SessionAs(o.admin)
	b.Client.Timeout = 20 * time.Second
	return &tenantCaller{w: w, client: b.Client, csrf: b.CSRF("/settings"), token: w.env.APIToken(t, o.admin, o.tenant.ID)}
}

type answer struct {
	status   int
	location string
	body     string
}

// call sends the route's method to path with an empty form or body.
func (c *tenantCaller) call(t *testing.T, r route, path string) answer {
	t.Helper()
	var body io.Reader
	ctype := ""
	switch {
	case r.method == http.MethodGet || r.method == http.MethodDelete:
	case r.api():
		body, ctype = strings.NewReader("{}"), "application/json"
	default:
		body, ctype = strings.NewReader(url.Values{"csrf_token": {c.csrf}}.Encode()), "application/x-www-form-urlencoded"
	}
	req, _ := http.NewRequest(r.method, c.w.env.URL+path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if r.api() {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", r, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b)}
}
