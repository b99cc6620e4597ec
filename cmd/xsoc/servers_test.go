package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// pgServer is a PostgreSQL server of the test's own, in a temporary
// directory on a free port, so that a test may stop and restart it
// without touching the machine's shared server.
type pgServer struct {
	t    *testing.T
	bin  string // the directory of initdb, pg_ctl and postgres
	dir  string
	port int
	cred *syscall.Credential // the user the server runs as, when the test runs as root
}

// privatePostgres initialises and starts a private PostgreSQL server. It
// skips the test when the server's programs are not installed.
func privatePostgres(t *testing.T) *pgServer {
	t.Helper()
	initdb, _ := exec.LookPath("initdb")
	if found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); initdb == "" && len(found) > 0 {
		slices.Sort(found)
		initdb = found[len(found)-1]
	}
	if initdb == "" {
		t.Skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed: this test stops and restarts a PostgreSQL of its own")
	}
	dir, err := os.MkdirTemp("", "xsoc-pg-")
	if err != nil {
		t.Fatal(err)
	}
	s := &pgServer{t: t, bin: filepath.Dir(initdb), dir: dir, port: freePortNumber(t)}
	t.Cleanup(func() {
		s.ctl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 { // initdb refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			t.Skip("running as root without a postgres or nobody user to run a private PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := s.command(initdb, "-D", filepath.Join(dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s.start()
	return s
}

func (s *pgServer) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.dir
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

func (s *pgServer) ctl(args ...string) ([]byte, error) {
	args = append([]string{"-D", filepath.Join(s.dir, "data"), "-w", "-t", "60"}, args...)
	return s.command(filepath.Join(s.bin, "pg_ctl"), args...).CombinedOutput()
}

// start starts the server and waits until it takes connections.
func (s *pgServer) start() {
	s.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", s.port, s.dir)
	if out, err := s.ctl("-l", filepath.Join(s.dir, "log"), "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		s.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// crash stops the server at once, as a crash would (pg_ctl -m immediate:
// no checkpoint; the next start recovers from the WAL).
func (s *pgServer) crash() {
	s.t.Helper()
	if out, err := s.ctl("stop", "-m", "immediate"); err != nil {
		s.t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

// URL is the server's database "postgres".
func (s *pgServer) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// natsServer is a NATS JetStream server of the test's own.
type natsServer struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// privateNATS starts a private NATS JetStream server. It skips the test
// when nats-server is not installed.
func privateNATS(t *testing.T) *natsServer {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nats-server"); serr != nil {
			t.Skip("nats-server is not installed: this test restarts a NATS server of its own")
		}
		bin = "/usr/sbin/nats-server"
	}
	s := &natsServer{t: t, bin: bin, dir: t.TempDir(), port: freePortNumber(t)}
	s.start()
	t.Cleanup(func() {
		if s.cmd != nil {
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// start starts the server on its port and store directory and waits
// until it takes connections.
func (s *natsServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "-js", "-sd", s.dir, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port))
	s.done = make(chan struct{})
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	waitFor(s.t, func() bool {
		nc, err := nats.Connect(s.URL(), nats.Timeout(time.Second))
		if err != nil {
			return false
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err = js.AccountInfo(ctx)
		return err == nil
	}, "the private NATS server to take JetStream requests")
}

// kill9 kills the server with SIGKILL.
func (s *natsServer) kill9() {
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// URL is the server's client URL.
func (s *natsServer) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

func freePortNumber(t *testing.T) int {
	_, port, _ := net.SplitHostPort(freePort(t))
	n, _ := strconv.Atoi(port)
	return n
}

// describe lists the server's streams and their consumers' state — what a
// failed test needs to tell a stuck consumer from a slow one.
func (s *natsServer) describe() string {
	nc, err := nats.Connect(s.URL(), nats.Timeout(time.Second))
	if err != nil {
		return "NATS: " + err.Error()
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return "NATS: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out strings.Builder
	streams := js.ListStreams(ctx)
	for st := range streams.Info() {
		fmt.Fprintf(&out, "stream %s: %d messages, seq %d..%d, %d consumers\n",
			st.Config.Name, st.State.Msgs, st.State.FirstSeq, st.State.LastSeq, st.State.Consumers)
		stream, err := js.Stream(ctx, st.Config.Name)
		if err != nil {
			fmt.Fprintf(&out, "  %v\n", err)
			continue
		}
		consumers := stream.ListConsumers(ctx)
		for ci := range consumers.Info() {
			fmt.Fprintf(&out, "  consumer %s: pending %d, ack pending %d, redelivered %d, waiting pulls %d, delivered stream seq %d, ack floor %d\n",
				ci.Name, ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.NumWaiting, ci.Delivered.Stream, ci.AckFloor.Stream)
		}
	}
	if err := streams.Err(); err != nil {
		fmt.Fprintf(&out, "listing streams: %v\n", err)
	}
	return out.String()
}
