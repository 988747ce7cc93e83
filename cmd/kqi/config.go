package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"kqi/portal/client"
)

// session is what `kqi login` keeps: the server and its token, in a file
// only the user can read.
type session struct {
	Server string `json:"server"`
	Token  string `json:"token"`
	User   string `json:"user"`
	Tenant string `json:"tenant"`
}

// configDir is the user's kqi directory: $XDG_CONFIG_HOME/kqi, else
// ~/.config/kqi (as os.UserConfigDir has it for the OS).
func (a *app) configDir() (string, error) {
	if d := a.getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "kqi"), nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory to keep the token in (set XDG_CONFIG_HOME or HOME): %v", err)
	}
	return filepath.Join(d, "kqi"), nil
}

func (a *app) sessionFile() (string, error) {
	d, err := a.configDir()
	return filepath.Join(d, "session.json"), err
}

func (a *app) loadSession() (session, error) {
	var s session
	p, err := a.sessionFile()
	if err != nil {
		return s, err
	}
	raw, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("%s is damaged (%v); run kqi login again", p, err)
	}
	return s, nil
}

// saveSession writes the session 0600 (the directory 0700), replacing the
// file in one rename so a crash leaves the old one or the new one.
func (a *app) saveSession(s session) error {
	p, err := a.sessionFile()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	raw, _ := json.MarshalIndent(s, "", "  ")
	tmp, err := os.CreateTemp(filepath.Dir(p), ".session-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

func (a *app) forgetSession() error {
	p, err := a.sessionFile()
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// client is the API client of the kept session, KQI_SERVER and KQI_TOKEN
// overriding it (so kqi works inside a job as is).
func (a *app) client() (*client.Client, error) {
	s, err := a.loadSession()
	if err != nil {
		return nil, err
	}
	if v := a.getenv("KQI_SERVER"); v != "" {
		s.Server = v
	}
	if v := a.getenv("KQI_TOKEN"); v != "" {
		s.Token = v
	}
	if s.Server == "" || s.Token == "" {
		return nil, errors.New("not logged in: run kqi login (or set KQI_SERVER and KQI_TOKEN)")
	}
	return client.New(s.Server, s.Token), nil
}

// parseID reads a positional id.
func parseID(what, s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, usagef("%s must be a number, not %q", what, s)
	}
	return n, nil
}

func parseIDs(what string, ss []string) ([]int64, error) {
	out := make([]int64, 0, len(ss))
	for _, s := range ss {
		n, err := parseID(what, s)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}
