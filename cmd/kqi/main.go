// Command kqi is KQI's command-line tool: data, datasets, preprocessing,
// trainings and inferences over the portal's JSON API (portal/client).
//
// Exit codes: 0 done, 1 failed (the API refused, a job did not complete,
// the server could not be reached), 2 usage (an unknown command or flag, a
// missing argument).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// app is one invocation: its streams and environment.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// group is a command group (data, training, …) and its verbs.
type group struct {
	summary string
	verbs   map[string]verb
}

type verb struct {
	summary string
	run     func(a *app, ctx context.Context, args []string) error
}

func groups() map[string]group {
	return map[string]group{
		"login":      {summary: "get a token for a tenant and keep it", verbs: map[string]verb{"": {run: (*app).login}}},
		"logout":     {summary: "revoke the token and forget it", verbs: map[string]verb{"": {run: (*app).logout}}},
		"whoami":     {summary: "who the token belongs to, in which tenant", verbs: map[string]verb{"": {run: (*app).whoami}}},
		"tenant":     tenantGroup(),
		"data":       dataGroup(),
		"dataset":    datasetGroup(),
		"preprocess": preprocessGroup(),
		"training":   jobGroup(trainingKind),
		"inference":  jobGroup(inferenceKind),
		"shell":      {summary: "a shell (or one command) in a running training", verbs: map[string]verb{"": {run: (*app).shell}}},
	}
}

// usageError is bad usage: exit code 2, with the command's usage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func run(ctx context.Context, args []string, a *app) int {
	err := dispatch(ctx, args, a)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(a.stderr, "kqi: "+ue.msg)
		return 2
	case errors.Is(err, errExit1):
		return 1
	case errors.As(err, new(exitCode)):
		var e exitCode
		errors.As(err, &e)
		return int(e)
	default:
		fmt.Fprintln(a.stderr, "kqi: "+oneLine(err.Error()))
		return 1
	}
}

// errExit1 ends with exit code 1 having said all there is to say.
var errExit1 = errors.New("exit 1")

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func dispatch(ctx context.Context, args []string, a *app) error {
	gs := groups()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		a.topUsage(gs)
		if len(args) == 0 {
			return &usageError{"a command is needed"}
		}
		return nil
	}
	if args[0] == "--version" || args[0] == "version" {
		fmt.Fprintln(a.stdout, "kqi "+version)
		return nil
	}
	g, ok := gs[args[0]]
	if !ok {
		a.topUsage(gs)
		return usagef("unknown command %q", args[0])
	}
	if v, ok := g.verbs[""]; ok {
		return v.run(a, ctx, args[1:])
	}
	if len(args) < 2 || args[1] == "-h" || args[1] == "--help" {
		a.groupUsage(args[0], g)
		if len(args) < 2 {
			return usagef("kqi %s needs a subcommand", args[0])
		}
		return nil
	}
	v, ok := g.verbs[args[1]]
	if !ok {
		a.groupUsage(args[0], g)
		return usagef("unknown command \"kqi %s %s\"", args[0], args[1])
	}
	return v.run(a, ctx, args[2:])
}

func (a *app) topUsage(gs map[string]group) {
	fmt.Fprintln(a.stderr, "Usage: kqi COMMAND [SUBCOMMAND] [ARGS] [--help]\n\nCommands:")
	for _, name := range sortedKeys(gs) {
		fmt.Fprintf(a.stderr, "  %-11s %s\n", name, gs[name].summary)
	}
	fmt.Fprintln(a.stderr, "\nThe server and token come from `kqi login`, or KQI_SERVER and KQI_TOKEN.\n`kqi --version` prints the version.")
}

func (a *app) groupUsage(name string, g group) {
	fmt.Fprintf(a.stderr, "Usage: kqi %s SUBCOMMAND [ARGS] [--help]\n\nSubcommands:\n", name)
	for _, v := range sortedKeys(g.verbs) {
		fmt.Fprintf(a.stderr, "  %-15s %s\n", v, g.verbs[v].summary)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// command is one verb's flags and positional arguments.
type command struct {
	fs    *flag.FlagSet
	usage string // the arguments after the command's name
	json  *bool
}

func newCommand(a *app, name, usage, summary string) *command {
	fs := flag.NewFlagSet("kqi "+name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	c := &command{fs: fs, usage: usage}
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "Usage: kqi %s %s\n\n%s\n", name, usage, summary)
		if hasFlags(fs) {
			fmt.Fprintln(a.stderr, "\nFlags:")
			fs.VisitAll(func(f *flag.Flag) {
				fmt.Fprintf(a.stderr, "  --%s\n    \t%s\n", f.Name, f.Usage)
			})
		}
	}
	return c
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// withJSON adds --json.
func (c *command) withJSON() *command {
	c.json = c.fs.Bool("json", false, "print the answer as JSON")
	return c
}

// parse reads flags anywhere among the arguments (up to "--") and checks
// the number of positional arguments: at least min, at most max (-1 for
// any).
// parseID is parse for a command whose first argument is an ID.
func (c *command) parseID(args []string, min, max int) ([]string, int64, error) {
	pos, err := c.parse(args, min, max)
	if err != nil {
		return nil, 0, err
	}
	id, err := parseID("ID", pos[0])
	return pos, id, err
}

func (c *command) parse(args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{err.Error()}
		}
		args = c.fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		c.fs.Usage()
		return nil, usagef("%s: expected %s", c.fs.Name(), c.usage)
	}
	return pos, nil
}

// given reports whether the flag was set on the command line.
func (c *command) given(name string) bool {
	set := false
	c.fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// require refuses, as usage, flags that were not given.
func (c *command) require(names ...string) error {
	var missing []string
	for _, n := range names {
		if !c.given(n) {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		c.fs.Usage()
		return usagef("%s: missing %s", c.fs.Name(), strings.Join(missing, ", "))
	}
	return nil
}

// list is a flag that may be repeated; each value may also be comma-separated
// when split is set.
type list struct {
	values []string
	split  bool
}

func (l *list) String() string { return strings.Join(l.values, ",") }
func (l *list) Set(v string) error {
	if !l.split {
		l.values = append(l.values, v)
		return nil
	}
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			l.values = append(l.values, s)
		}
	}
	return nil
}

func (c *command) list(name, usage string, split bool) *list {
	l := &list{split: split}
	c.fs.Var(l, name, usage)
	return l
}

// printJSON writes v as indented JSON.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
