// Command kqi-devtensorboard stands in for TensorBoard on the dev cluster,
// where TensorBoard is not packaged (Debian has no tensorboard). It is
// installed as `tensorboard` in the dev image by scripts/dev-cluster.sh
// and takes the flags of KQI_TENSORBOARD_COMMAND's default.
//
// Like TensorBoard it listens on --host:--port, serves only below
// --path_prefix (the bare prefix redirects to prefix/), answers
// prefix/data/logdir and prefix/data/runs (the run directories below
// --logdir holding event files, as TensorBoard lists them) and shows them
// on its page. Unlike TensorBoard it draws nothing, and it answers a
// WebSocket at prefix/ws by echoing each message, so that the portal's
// proxy can be tested with both. Production sites set
// KQI_TENSORBOARD_IMAGE to an image with the real TensorBoard.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tensorboard:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fl := flag.NewFlagSet("tensorboard", flag.ContinueOnError)
	logdir := fl.String("logdir", "", "directory of runs")
	host := fl.String("host", "localhost", "address to listen on")
	port := fl.Int("port", 6006, "port to listen on (0: any free port)")
	prefix := fl.String("path_prefix", "", "URL path everything is served below")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *logdir == "" {
		return errors.New("--logdir is required")
	}
	p := normalizePrefix(*prefix)
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "TensorBoard (KQI stand-in) at http://%s%s/ (Press CTRL+C to quit)\n", ln.Addr(), p)
	srv := &http.Server{Handler: handler(*logdir, p), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// normalizePrefix makes --path_prefix "/a/b" whatever the slashes given,
// "" for none, as TensorBoard does.
func normalizePrefix(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return "/" + p
}

func handler(logdir, prefix string) http.Handler {
	mux := http.NewServeMux()
	if prefix != "" {
		mux.Handle("GET "+prefix, http.RedirectHandler(prefix+"/", http.StatusMovedPermanently))
	}
	mux.HandleFunc("GET "+prefix+"/{$}", func(w http.ResponseWriter, r *http.Request) {
		runs, err := listRuns(logdir)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page.Execute(w, map[string]any{"Logdir": logdir, "Runs": runs, "Prefix": prefix})
	})
	mux.HandleFunc("GET "+prefix+"/data/logdir", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]string{"logdir": logdir})
	})
	mux.HandleFunc("GET "+prefix+"/data/runs", func(w http.ResponseWriter, r *http.Request) {
		runs, err := listRuns(logdir)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, runs)
	})
	mux.HandleFunc("GET "+prefix+"/ws", echo)
	return mux
}

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>TensorBoard</title></head>
<body><h1 id="tensorboard-standin">TensorBoard (KQI stand-in)</h1>
<p>logdir: <code id="logdir">{{.Logdir}}</code></p>
<ul id="runs">{{range .Runs}}<li class="run">{{.}}</li>{{else}}<li>No runs with event files yet.</li>{{end}}</ul>
<p><a href="{{.Prefix}}/data/runs">data/runs</a></p>
</body></html>
`))

// listRuns lists, like TensorBoard, each directory below logdir (itself
// being ".") that holds an event file.
func listRuns(logdir string) ([]string, error) {
	seen := map[string]bool{}
	err := filepath.WalkDir(logdir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable parts are left out, as TensorBoard does
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), "events.out.tfevents.") {
			rel, err := filepath.Rel(logdir, filepath.Dir(p))
			if err == nil {
				seen[filepath.ToSlash(rel)] = true
			}
		}
		return nil
	})
	runs := make([]string, 0, len(seen))
	for r := range seen {
		runs = append(runs, r)
	}
	sort.Strings(runs)
	return runs, err
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// echo answers each WebSocket message with the same message.
func echo(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		typ, msg, err := c.Read(r.Context())
		if err != nil {
			return
		}
		if err := c.Write(r.Context(), typ, msg); err != nil {
			return
		}
	}
}
