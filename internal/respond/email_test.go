package respond

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xsoc/xsoc/internal/store"
	"github.com/xsoc/xsoc/internal/store/storetest"
)

// smtpServer is a minimal SMTP server on 127.0.0.1 speaking the real
// protocol: EHLO, optional STARTTLS, MAIL, RCPT, DATA, QUIT.
type smtpServer struct {
	ln  net.Listener
	tls *tls.Config // STARTTLS is offered when set
	// rcptCode answers the n-th RCPT command (0-based); 0 means 250.
	rcptCode func(n int) int

	mu    sync.Mutex
	rcpts int
	msgs  []smtpMessage
}

type smtpMessage struct {
	from string
	to   []string
	data string
	tls  bool
}

func newSMTPServer(t testing.TB, tlsConf *tls.Config, rcptCode func(int) int) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, tls: tlsConf, rcptCode: rcptCode}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *smtpServer) serve(conn net.Conn) {
	defer func() { conn.Close() }()
	tp := textproto.NewConn(conn)
	tp.PrintfLine("220 test ESMTP")
	var cur smtpMessage
	secure := false
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			tp.PrintfLine("250-test greets %s", arg)
			if s.tls != nil && !secure {
				tp.PrintfLine("250-STARTTLS")
			}
			tp.PrintfLine("250 8BITMIME")
		case "STARTTLS":
			tp.PrintfLine("220 go ahead")
			tc := tls.Server(conn, s.tls)
			if tc.Handshake() != nil {
				return
			}
			conn, tp, secure = tc, textproto.NewConn(tc), true
		case "MAIL":
			cur = smtpMessage{from: arg, tls: secure}
			tp.PrintfLine("250 ok")
		case "RCPT":
			s.mu.Lock()
			n := s.rcpts
			s.rcpts++
			s.mu.Unlock()
			if code := s.rcptCode(n); code != 0 {
				tp.PrintfLine("%d no", code)
				continue
			}
			cur.to = append(cur.to, arg)
			tp.PrintfLine("250 ok")
		case "DATA":
			tp.PrintfLine("354 go on")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			cur.data = string(data)
			s.mu.Lock()
			s.msgs = append(s.msgs, cur)
			s.mu.Unlock()
			tp.PrintfLine("250 queued")
		case "QUIT":
			tp.PrintfLine("221 bye")
			return
		default:
			tp.PrintfLine("502 unknown")
		}
	}
}

func (s *smtpServer) messages() []smtpMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMessage(nil), s.msgs...)
}

// selfSigned returns a server TLS configuration for 127.0.0.1 and a
// client one trusting it.
func selfSigned(t testing.TB) (server, client *tls.Config) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

func TestEmailDelivery(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	tests := []struct {
		name       string
		offerTLS   bool
		requireTLS bool
		rcptCode   func(int) int
		state      string
		attempts   int
		wantTLS    bool
	}{
		{"plain", false, false, func(int) int { return 0 }, StateDone, 1, false},
		{"starttls", true, true, func(int) int { return 0 }, StateDone, 1, true},
		{"4xx then ok", false, false, func(n int) int { return map[bool]int{true: 451, false: 0}[n == 0] }, StateDone, 2, false},
		{"5xx is dead", false, false, func(int) int { return 550 }, StateDead, 1, false},
		{"tls required but not offered", false, true, func(int) int { return 0 }, StateDead, 1, false},
	}
	storetest.Each(t, schemas, func(t *testing.T, db *store.DB) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				db.Exec(context.Background(), "DELETE FROM respond_outbox")
				db.Exec(context.Background(), "DELETE FROM respond_firings")
				var offer *tls.Config
				if tt.offerTLS {
					offer = serverTLS
				}
				srv := newSMTPServer(t, offer, tt.rcptCode)
				opts := fastOptions(nil)
				opts.SMTPTLS = clientTLS
				r := newResponder(t, db, opts)
				mustLoad(t, r, writePlaybooks(t, map[string]string{"mail.yaml": fmt.Sprintf(`name: mail
when: {}
actions:
  - email:
      host: 127.0.0.1
      port: %d
      from: xsoc@soc.example
      to: [oncall@soc.example]
      subject: "[xsoc] {{.Severity}} – {{.RuleTitle}}"
      body: "Rule {{.RuleTitle}}\n.starts with a dot\n"
      require_tls: %v
      timeout: 2s
`, srv.port(), tt.requireTLS)}))
				start(t, r)
				if err := r.HandleAlert(context.Background(), testAlert("m-"+tt.name)); err != nil {
					t.Fatal(err)
				}
				var d Delivery
				waitFor(t, "the e-mail to settle", func() bool {
					var ok bool
					d, ok = deliveryState(t, r)
					return ok && d.State != StatePending
				})
				if d.State != tt.state || d.Attempts != tt.attempts {
					t.Fatalf("state %s after %d attempts (%s), want %s after %d", d.State, d.Attempts, d.LastError, tt.state, tt.attempts)
				}
				msgs := srv.messages()
				if tt.state == StateDead {
					if len(msgs) != 0 {
						t.Fatalf("dead delivery still sent %d messages", len(msgs))
					}
					return
				}
				if len(msgs) != 1 {
					t.Fatalf("server got %d messages", len(msgs))
				}
				checkMessage(t, msgs[0], tt.wantTLS)
			})
		}
	})
}

func checkMessage(t *testing.T, m smtpMessage, wantTLS bool) {
	t.Helper()
	if m.tls != wantTLS || !strings.HasPrefix(m.from, "FROM:<xsoc@soc.example>") || len(m.to) != 1 || m.to[0] != "TO:<oncall@soc.example>" {
		t.Fatalf("envelope %+v", m)
	}
	msg, err := mail.ReadMessage(strings.NewReader(m.data))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != "[xsoc] high – Encoded PowerShell" {
		t.Errorf("subject %q %v", subject, err)
	}
	if msg.Header.Get("Message-ID") == "" || msg.Header.Get("Date") == "" || msg.Header.Get("To") != "oncall@soc.example" {
		t.Errorf("headers %v", msg.Header)
	}
	// The server's ReadDotBytes undid dot-stuffing and CRLF line ends.
	body, err := io.ReadAll(msg.Body)
	if got := string(body); err != nil || got != "Rule Encoded PowerShell\n.starts with a dot\n" {
		t.Errorf("body %q %v", got, err)
	}
}
