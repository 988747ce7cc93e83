package picker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Registry lists a container registry's images through the Docker
// Registry HTTP API v2 (the CNCF distribution spec, served by distribution
// itself, Harbor, GitLab's and most others): GET /v2/_catalog for the
// repositories and /v2/{name}/tags/list for their tags, with the user's
// credentials as Basic auth, or traded for a bearer token where the
// registry challenges with one (WWW-Authenticate: Bearer realm=…).
// Registries that do not offer the catalog (Docker Hub, GHCR) answer 401
// or 404 there and are simply not listed.
type Registry struct {
	Client *http.Client // nil: a client with a 3 s timeout
}

// errNotListable is a registry without a catalog we may read.
var errNotListable = errors.New("the registry does not list its images")

const (
	registryRepos = 50 // repositories asked for
	registryTags  = 20 // tags kept per repository, the last ones listed
)

// Images lists host's images as repository:tag, at most registryRepos
// repositories.
func (g Registry) Images(ctx context.Context, host, username, password string) ([]string, error) {
	base := "https://" + host
	if isLoopback(host) {
		base = "http://" + host // a registry on this machine (tests, a site's local mirror)
	}
	var catalog struct {
		Repositories []string `json:"repositories"`
	}
	if err := g.get(ctx, base+"/v2/_catalog?n="+fmt.Sprint(registryRepos), username, password, &catalog); err != nil {
		return nil, err
	}
	var out []string
	for _, repo := range catalog.Repositories {
		var tags struct {
			Tags []string `json:"tags"`
		}
		if err := g.get(ctx, base+"/v2/"+repo+"/tags/list", username, password, &tags); err != nil {
			continue // one repository we may not read hides no others
		}
		if len(tags.Tags) > registryTags {
			tags.Tags = tags.Tags[len(tags.Tags)-registryTags:]
		}
		for _, tag := range tags.Tags {
			out = append(out, repo+":"+tag)
		}
	}
	return out, nil
}

func isLoopback(host string) bool {
	h := host
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		h = host[:i]
	}
	return h == "127.0.0.1" || h == "localhost" || h == "[::1]"
}

// get asks the registry, answering a bearer challenge once.
func (g Registry) get(ctx context.Context, u, username, password string, v any) error {
	client := g.Client
	if client == nil {
		client = &http.Client{Timeout: 3 * time.Second}
	}
	do := func(auth string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		} else if password != "" {
			req.SetBasicAuth(username, password)
		}
		return client.Do(req)
	}
	resp, err := do("")
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		challenge := resp.Header.Get("WWW-Authenticate")
		resp.Body.Close()
		scheme, params, _ := strings.Cut(challenge, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return errNotListable
		}
		token, err := g.bearer(ctx, client, params, username, password)
		if err != nil {
			return err
		}
		if resp, err = do("Bearer " + token); err != nil {
			return err
		}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errNotListable
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(v)
}

// bearer trades the credentials for a token at the challenge's realm, as
// the distribution token spec says: GET realm?service=…&scope=….
func (g Registry) bearer(ctx context.Context, client *http.Client, params, username, password string) (string, error) {
	p := challengeParams(params)
	realm, err := url.Parse(p["realm"])
	if err != nil || (realm.Scheme != "https" && !(realm.Scheme == "http" && isLoopback(realm.Host))) {
		return "", errNotListable // credentials go to https realms only
	}
	q := realm.Query()
	for _, k := range []string{"service", "scope"} {
		if p[k] != "" {
			q.Set(k, p[k])
		}
	}
	realm.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return "", err
	}
	if password != "" {
		req.SetBasicAuth(username, password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", errNotListable
	}
	var answer struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&answer); err != nil {
		return "", errNotListable
	}
	if answer.Token == "" {
		answer.Token = answer.AccessToken
	}
	if answer.Token == "" {
		return "", errNotListable
	}
	return answer.Token, nil
}

// challengeParams reads realm="…",service="…",scope="…".
func challengeParams(s string) map[string]string {
	out := map[string]string{}
	for s != "" {
		k, rest, ok := strings.Cut(strings.TrimLeft(s, " ,"), "=")
		if !ok {
			break
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				break
			}
			v, s = rest[1:1+end], rest[2+end:]
		} else {
			v, s, _ = strings.Cut(rest, ",")
		}
		out[strings.ToLower(strings.TrimSpace(k))] = v
	}
	return out
}
