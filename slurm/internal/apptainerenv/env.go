// Package apptainerenv reproduces, for tests, how Apptainer (1.x) turns an
// --env-file into the container's environment, so that the stand-in for
// apptainer in slurm's tests reads the file the way the real one does
// rather than the way bash would:
//
//  1. On the host, the file is run by the mvdan.cc/sh interpreter with
//     allexport set, command execution and redirections disabled, and the
//     host environment visible but not exported (Apptainer's
//     interpreter.EvaluateEnv). Every exported string variable it leaves is
//     kept, except the interpreter's read-only ones (env.ReadOnlyVars).
//  2. Each kept variable becomes APPTAINERENV_NAME; HOME may not be
//     overridden that way and PATH becomes the user-defined PATH
//     (env.SetContainerEnv).
//  3. In the container the variables are written out again as
//     `export NAME=value` lines (injectEnvHandler) and sourced by the same
//     interpreter: single-quoted with --no-eval, double-quoted without it,
//     where $, backticks and backslashes are interpreted a second time.
//     A file that no longer parses loses every variable; the command still
//     runs.
//
// Not covered: the action scripts' own steps after that (getallenv escapes
// newlines as the text \u000A and the action script turns it back, so a
// value holding that literal text comes out changed), %environment
// sections of images, and --env. Commands that the second evaluation would
// run are not run: they are replaced by the text "<ran: COMMAND>", enough
// to see that they would have.
package apptainerenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// readOnly are the variables Apptainer drops from an env file's result.
var readOnly = map[string]bool{"EUID": true, "GID": true, "HOME": true, "IFS": true, "OPTIND": true, "PWD": true, "UID": true}

// EvaluateFile is step 1: the variables the env file sets, evaluated with
// host as the (non-exported) starting environment.
func EvaluateFile(ctx context.Context, content []byte, host []string) (map[string]string, error) {
	return evaluate(ctx, content, host, func(ctx context.Context, args []string) error {
		return fmt.Errorf("could not execute %q: execution is disabled", strings.Join(args, " "))
	})
}

const stopBuiltin = "__stop__"

// evaluate runs script the way Apptainer's EvaluateEnv does and returns
// the exported string variables it leaves, minus the read-only ones. run
// handles every command but the stop builtin.
func evaluate(ctx context.Context, script []byte, host []string, run func(context.Context, []string) error) (map[string]string, error) {
	var out map[string]string
	exec := func(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
		return func(ctx context.Context, args []string) error {
			if args[0] == stopBuiltin {
				out = exported(interp.HandlerCtx(ctx).Env)
				return nil
			}
			return run(ctx, args)
		}
	}
	open := func(ctx context.Context, path string, flag int, perm os.FileMode) (io.ReadWriteCloser, error) {
		return nil, fmt.Errorf("could not open/create/modify %q: file feature is disabled", path)
	}
	vars := map[string]expand.Variable{}
	for _, kv := range host {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = expand.Variable{Set: true, Kind: expand.String, Str: v}
		}
	}
	r, err := interp.New(
		interp.Env(hostEnv(vars)),
		interp.ExecHandlers(exec),
		interp.OpenHandler(open),
		interp.StdIO(nil, io.Discard, io.Discard),
		interp.Params("-a"),
	)
	if err != nil {
		return nil, err
	}
	b := bytes.NewBuffer(bytes.Clone(script))
	b.WriteString("\n" + stopBuiltin + "\n")
	file, err := syntax.NewParser().Parse(b, "apptainer")
	if err != nil {
		return nil, fmt.Errorf("while parsing script: %w", err)
	}
	if err := r.Run(ctx, file); err != nil {
		return nil, fmt.Errorf("while evaluating environment script: %w", err)
	}
	for k := range readOnly {
		delete(out, k)
	}
	return out, nil
}

func exported(env expand.Environ) map[string]string {
	out := map[string]string{}
	for name, vr := range env.Each {
		if vr.Exported && vr.Kind == expand.String {
			out[name] = vr.Str
		}
	}
	return out
}

// hostEnv is the starting environment: set but not exported, as
// Apptainer's nonExportedEnv.
type hostEnv map[string]expand.Variable

func (e hostEnv) Get(name string) expand.Variable { return e[name] }

func (e hostEnv) Each(fn func(name string, vr expand.Variable) bool) {
	for k, v := range e {
		if !fn(k, v) {
			return
		}
	}
}

// Container is steps 2 and 3: the environment the command sees, given the
// env file's variables, whether --no-eval was passed, and the host
// environment (only the proxy variables and TERM pass --cleanenv).
// warning is non-empty when the second evaluation failed and every
// variable of the file was lost, as Apptainer then carries on.
func Container(ctx context.Context, fileVars map[string]string, noEval bool, host []string, home string) (env []string, warning string) {
	const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	base := map[string]string{"LANG": "C"}
	for _, kv := range host {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "TERM", "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY", "ftp_proxy", "FTP_PROXY":
			base[k] = v
		}
	}
	base["HOME"], base["PATH"] = home, defaultPath

	var script strings.Builder
	keys := make([]string, 0, len(fileVars))
	for k := range fileVars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := fileVars[k]
		switch k {
		case "HOME", "UID", "GID":
			continue // not permitted, or skipped by the injection
		}
		if noEval {
			v = "'" + strings.ReplaceAll(v, "'", `'"'"'`) + "'"
		} else {
			v = `"` + strings.ReplaceAll(v, `"`, `\"`) + `"`
		}
		fmt.Fprintf(&script, "export %s=%s\n", k, v)
	}
	var baseList []string
	for k, v := range base {
		baseList = append(baseList, k+"="+v)
	}
	got, err := evaluate(ctx, []byte(script.String()), baseList, func(ctx context.Context, args []string) error {
		fmt.Fprintf(interp.HandlerCtx(ctx).Stdout, "<ran: %s>", strings.Join(args, " "))
		return nil
	})
	final := map[string]string{}
	for k, v := range base {
		final[k] = v
	}
	if err != nil {
		warning = err.Error()
	} else {
		for k, v := range got {
			final[k] = v
		}
	}
	for k, v := range final {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env, warning
}
