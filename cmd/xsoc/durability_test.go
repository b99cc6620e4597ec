package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// built is the xsoc binary the tests run, built by the first test that
// needs it into a directory TestMain removes.
var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildXsoc builds the xsoc binary once per test binary run.
func buildXsoc(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "xsoc-test-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "xsoc")
		if out, err := exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

var keyPattern = regexp.MustCompile(`xsoc_[0-9a-f]{16}_[A-Za-z0-9_-]{43}`)

// startServe runs "xsoc serve" and waits until its API answers.
func startServe(t *testing.T, bin, dataDir, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data-dir", dataDir, "--listen", addr, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return cmd
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	t.Fatal("xsoc serve did not come up within 60s")
	return nil
}

// TestKill9LosesNothing ingests continuously, kill -9s the server
// mid-stream, restarts it, and checks that every acknowledged event is
// stored exactly once. The sender retries an unacknowledged request with
// the same event ids, as a real shipper does.
func TestKill9LosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildXsoc(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	out, err := exec.Command(bin, "members", "add", "--data-dir", dataDir, "--id", "de-energie",
		"--name", "Energie AG", "--country", "DE", "--sector", "energy").CombinedOutput()
	if err != nil {
		t.Fatalf("members add: %v\n%s", err, out)
	}
	key := keyPattern.FindString(string(out))
	if key == "" {
		t.Fatalf("no API key in %q", out)
	}
	addr := freePort(t)
	srv := startServe(t, bin, dataDir, addr)
	defer func() { srv.Process.Kill(); srv.Wait() }()

	const perBatch = 200
	var acked atomic.Int64 // batches acknowledged
	stop := make(chan struct{})
	sent := make(chan int)
	go func() {
		batch := 0
		for {
			select {
			case <-stop:
				sent <- batch
				return
			default:
			}
			body := ingestBody(batch, perBatch)
			for !postOnce(addr, key, body) { // retry the same ids until acknowledged
				time.Sleep(20 * time.Millisecond)
			}
			acked.Add(1)
			batch++
		}
	}()
	waitFor(t, func() bool { return acked.Load() >= 20 }, "20 batches acknowledged before the kill")
	if err := srv.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	srv.Wait()
	before := acked.Load()
	srv = startServe(t, bin, dataDir, addr)
	waitFor(t, func() bool { return acked.Load() >= before+20 }, "20 more batches acknowledged after restart")
	close(stop)
	batches := <-sent
	want := batches * perBatch
	var got int
	waitFor(t, func() bool {
		got = eventCount(t, addr, key)
		return got >= want
	}, fmt.Sprintf("all %d acknowledged events stored", want))
	if got != want {
		t.Fatalf("stored %d events, %d were sent and acknowledged: duplicates", got, want)
	}
	t.Logf("%d batches (%d events) acknowledged, %d before the kill; all stored exactly once", batches, want, before)
}

func ingestBody(batch, n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"@timestamp":"2026-11-23T10:00:00Z","event":{"id":"b%d-e%d","kind":"event"},"source":{"ip":"10.1.%d.%d"},"message":"durability"}`+"\n",
			batch, i, batch%250, i%250)
	}
	return b.Bytes()
}

func postOnce(addr, key string, body []byte) bool {
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/ingest", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var res struct{ Accepted, Rejected int }
	json.NewDecoder(resp.Body).Decode(&res)
	return resp.StatusCode == http.StatusOK && res.Rejected == 0
}

func eventCount(t *testing.T, addr, key string) int {
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/events/count", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var c struct{ Count int }
	json.NewDecoder(resp.Body).Decode(&c)
	return c.Count
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
