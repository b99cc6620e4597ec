package ingest

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xsoc/xsoc/internal/ingest/format"
)

// SyslogConfig binds syslog listeners to the member whose devices send to
// them: syslog carries no credentials, so the port is the identity. Bind
// them to addresses only that member's devices reach.
type SyslogConfig struct {
	Member string `yaml:"member"`
	// UDP and TCP are listen addresses ("0.0.0.0:5514"); either may be empty.
	UDP string `yaml:"udp"`
	TCP string `yaml:"tcp"`
}

// SyslogStats counts what a syslog server saw.
type SyslogStats struct {
	Accepted atomic.Int64
	// Rejected counts lines that failed validation (logged with reason).
	Rejected atomic.Int64
	// Dropped counts UDP messages dropped because the bus stayed saturated
	// (logged). TCP never drops: it stops reading, and TCP's flow control
	// slows the sender down.
	Dropped atomic.Int64
}

// SyslogServer receives RFC 5424 / RFC 3164 syslog (and CEF inside syslog)
// over UDP and TCP (octet-counted or newline framing) for one member.
type SyslogServer struct {
	cfg      SyslogConfig
	acceptor *Acceptor
	log      *slog.Logger
	Stats    SyslogStats

	lines chan []byte
	udp   net.PacketConn
	tcp   net.Listener
	wg    sync.WaitGroup
}

// flushEvery and flushLines decide when a syslog batch goes to the bus:
// whichever comes first. 20 ms keeps latency low; 1,000 lines keeps the
// per-message cost of the bus negligible at high rates.
const (
	flushEvery = 20 * time.Millisecond
	flushLines = 1000
)

// ListenSyslog opens the configured listeners. Serve must be called to
// start receiving.
func ListenSyslog(cfg SyslogConfig, a *Acceptor, log *slog.Logger) (*SyslogServer, error) {
	if cfg.Member == "" {
		return nil, errors.New("syslog: listener needs a member")
	}
	s := &SyslogServer{cfg: cfg, acceptor: a, log: log.With("member", cfg.Member), lines: make(chan []byte, 4*flushLines)}
	var err error
	if cfg.UDP != "" {
		if s.udp, err = net.ListenPacket("udp", cfg.UDP); err != nil {
			return nil, err
		}
	}
	if cfg.TCP != "" {
		if s.tcp, err = net.Listen("tcp", cfg.TCP); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// UDPAddr returns the bound UDP address, or nil.
func (s *SyslogServer) UDPAddr() net.Addr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

// TCPAddr returns the bound TCP address, or nil.
func (s *SyslogServer) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// Serve receives until ctx ends, then flushes what it holds.
func (s *SyslogServer) Serve(ctx context.Context) {
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		s.batchLoop()
	}()
	if s.udp != nil {
		s.wg.Add(1)
		go s.serveUDP()
	}
	if s.tcp != nil {
		s.wg.Add(1)
		go s.serveTCP(ctx)
	}
	<-ctx.Done()
	s.Close()
	s.wg.Wait()
	close(s.lines)
	<-flushed
}

// Close stops the listeners.
func (s *SyslogServer) Close() {
	if s.udp != nil {
		s.udp.Close()
	}
	if s.tcp != nil {
		s.tcp.Close()
	}
}

func (s *SyslogServer) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 64<<10)
	c := new(checker)
	for {
		n, _, err := s.udp.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("syslog: udp read", "err", err)
			continue
		}
		line := trimFrame(buf[:n])
		if !s.valid(line, c) {
			continue
		}
		select {
		case s.lines <- append([]byte(nil), line...):
		default:
			if s.Stats.Dropped.Add(1)%1000 == 1 {
				s.log.Error("syslog: bus saturated, dropping UDP messages (use TCP for flow control)", "dropped", s.Stats.Dropped.Load())
			}
		}
	}
}

func (s *SyslogServer) serveTCP(ctx context.Context) {
	defer s.wg.Done()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("syslog: tcp accept", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			s.serveConn(ctx, c)
		}()
	}
}

func (s *SyslogServer) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), MaxLineBytes+16)
	sc.Split(format.ScanSyslog)
	chk := new(checker)
	for sc.Scan() {
		line := trimFrame(sc.Bytes())
		if len(line) == 0 || !s.valid(line, chk) {
			continue
		}
		// Blocking here is the flow control: a saturated bus stops the read.
		s.lines <- append([]byte(nil), line...)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, net.ErrClosed) {
		s.Stats.Rejected.Add(1)
		s.log.Warn("syslog: closing tcp connection on framing error", "remote", c.RemoteAddr().String(), "err", err)
	}
}

func (s *SyslogServer) valid(line []byte, c *checker) bool {
	f := format.Syslog
	if format.Sniff(line) == format.CEF {
		f = format.CEF
	}
	if reason := c.check(line, f); reason != "" {
		if s.Stats.Rejected.Add(1)%1000 == 1 {
			s.log.Warn("syslog: rejected line", "reason", reason, "rejected", s.Stats.Rejected.Load())
		}
		return false
	}
	return true
}

// batchLoop groups lines into bus batches and publishes them, retrying
// while the bus is saturated.
func (s *SyslogServer) batchLoop() {
	var batch [][]byte
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		s.publish(batch)
		batch = batch[:0]
	}
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				flush()
				return
			}
			batch = append(batch, l)
			if len(batch) >= flushLines {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

func (s *SyslogServer) publish(batch [][]byte) {
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := s.acceptor.Accept(ctx, s.cfg.Member, format.Auto, batch, "")
		cancel()
		if err == nil {
			s.Stats.Accepted.Add(int64(len(batch)))
			return
		}
		s.log.Warn("syslog: bus publish failed, retrying", "err", err, "lines", len(batch))
		time.Sleep(backoff)
		backoff = min(2*backoff, 5*time.Second)
	}
}

// trimFrame removes trailing newline, CR and NUL framing bytes.
func trimFrame(b []byte) []byte {
	for len(b) > 0 {
		switch b[len(b)-1] {
		case '\n', '\r', 0:
			b = b[:len(b)-1]
			continue
		}
		break
	}
	return b
}
