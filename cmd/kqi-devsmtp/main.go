// Command kqi-devsmtp is the dev cluster's mail server: it speaks enough
// SMTP (RFC 5321: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) for the
// portal's notifications to be delivered as a real mail server would
// take them, and writes each message, envelope first, as one file under
// -dir for the tests to read. It relays nothing, offers neither STARTTLS
// nor AUTH, and keeps every message.
//
// scripts/dev-cluster.sh builds and starts it; it is not meant for
// production.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	fs := flag.NewFlagSet("kqi-devsmtp", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:2525", "address to listen on")
	dir := fs.String("dir", "", "directory the messages are written to (required)")
	fs.Parse(os.Args[1:])
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "kqi-devsmtp: -dir is required")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kqi-devsmtp:", err)
		os.Exit(1)
	}
	logger := log.New(os.Stderr, "kqi-devsmtp: ", log.LstdFlags|log.LUTC)
	logger.Printf("listening on %s, writing to %s", ln.Addr(), *dir)
	s := &sink{dir: *dir, log: logger}
	for {
		c, err := ln.Accept()
		if err != nil {
			logger.Fatal(err)
		}
		go s.serve(c)
	}
}

type sink struct {
	dir string
	log *log.Logger
	n   atomic.Int64
}

// maxMessage bounds one message, as a real server's SIZE does.
const maxMessage = 10 << 20

func (s *sink) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	reply := func(line string) {
		w.WriteString(line + "\r\n")
		w.Flush()
	}
	reply("220 kqi-devsmtp ESMTP")
	var from string
	var to []string
	for {
		c.SetDeadline(time.Now().Add(2 * time.Minute))
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			reply("250-kqi-devsmtp")
			reply(fmt.Sprintf("250-SIZE %d", maxMessage))
			reply("250 8BITMIME")
		case "HELO":
			reply("250 kqi-devsmtp")
		case "MAIL":
			addr, ok := path(arg, "FROM:")
			if !ok {
				reply("501 syntax: MAIL FROM:<address>")
				continue
			}
			from, to = addr, nil
			reply("250 OK")
		case "RCPT":
			addr, ok := path(arg, "TO:")
			if !ok || addr == "" {
				reply("501 syntax: RCPT TO:<address>")
				continue
			}
			to = append(to, addr)
			reply("250 OK")
		case "DATA":
			if len(to) == 0 {
				reply("503 no recipients")
				continue
			}
			reply("354 end with <CRLF>.<CRLF>")
			body, err := readData(r)
			if err != nil {
				reply("552 " + err.Error())
				return
			}
			if err := s.write(from, to, body); err != nil {
				s.log.Print(err)
				reply("451 could not store the message")
				continue
			}
			from, to = "", nil
			reply("250 OK stored")
		case "RSET":
			from, to = "", nil
			reply("250 OK")
		case "NOOP":
			reply("250 OK")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 command not implemented")
		}
	}
}

// path reads "FROM:<a@b> SIZE=…" into a@b.
func path(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if !strings.HasPrefix(rest, "<") {
		return "", false
	}
	end := strings.IndexByte(rest, '>')
	if end < 0 {
		return "", false
	}
	return rest[1:end], true
}

// readData reads the DATA lines up to the lone dot, undoing dot-stuffing.
func readData(r *bufio.Reader) ([]byte, error) {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if line == ".\r\n" || line == ".\n" {
			return []byte(b.String()), nil
		}
		line = strings.TrimPrefix(line, ".")
		if b.Len()+len(line) > maxMessage {
			return nil, errors.New("message too large")
		}
		b.WriteString(line)
	}
}

// write stores one message atomically (written aside, then renamed), so a
// reader never sees half of one.
func (s *sink) write(from string, to []string, body []byte) error {
	name := fmt.Sprintf("%d-%d.eml", time.Now().UnixNano(), s.n.Add(1))
	tmp := filepath.Join(s.dir, "."+name)
	head := "X-Envelope-From: <" + from + ">\r\nX-Envelope-To: <" + strings.Join(to, ">, <") + ">\r\n"
	if err := os.WriteFile(tmp, append([]byte(head), body...), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.dir, name))
}
