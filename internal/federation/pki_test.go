package federation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPKI is a federation CA in a temporary directory that issues node
// identities.
type testPKI struct {
	dir string
	ca  *CA
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	dir := t.TempDir()
	ca, err := NewCA("test federation", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(filepath.Join(dir, "ca")); err != nil {
		t.Fatal(err)
	}
	return &testPKI{dir: dir, ca: ca}
}

// identity issues and loads the identity of node name.
func (p *testPKI) identity(t testing.TB, name string) *Identity {
	t.Helper()
	nc, err := p.ca.Issue(name, []string{"127.0.0.1", "localhost"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(p.dir, name)
	if err := nc.Save(out); err != nil {
		t.Fatal(err)
	}
	id, err := LoadIdentity(filepath.Join(out, NodeCertFile(name)), filepath.Join(out, NodeKeyFile(name)), filepath.Join(out, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestPKIFilesAndIdentity(t *testing.T) {
	p := newTestPKI(t)
	id := p.identity(t, "de-node")
	if id.Name != "de-node" {
		t.Errorf("name %q", id.Name)
	}
	if id.Cert.PublicKeyAlgorithm != x509.ECDSA || id.Cert.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P256() {
		t.Errorf("key is not ECDSA P-256")
	}
	if !strings.Contains(strings.Join(id.Cert.DNSNames, " "), "de-node") || id.Cert.Subject.CommonName != "de-node" {
		t.Errorf("node name not in CN/SAN: %v %v", id.Cert.Subject, id.Cert.DNSNames)
	}
	// Every file the PKI writes is readable by its owner only.
	filepath.WalkDir(p.dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			st, _ := os.Stat(path)
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", path, st.Mode().Perm())
			}
		}
		return nil
	})
	// A second CA in the same place would lock every node out.
	if err := p.ca.Save(filepath.Join(p.dir, "ca")); err == nil {
		t.Error("Save replaced an existing CA")
	}
	if _, err := LoadCA(filepath.Join(p.dir, "ca")); err != nil {
		t.Error(err)
	}
}

func TestLoadIdentityRefusesMismatches(t *testing.T) {
	p := newTestPKI(t)
	p.identity(t, "a")
	p.identity(t, "b")
	other := newTestPKI(t)
	other.identity(t, "a")
	f := func(dir, file string) string { return filepath.Join(dir, file) }
	tests := []struct {
		name, cert, key, ca, want string
	}{
		{"key of another node", f(p.dir, "a/a.crt"), f(p.dir, "b/b.key"), f(p.dir, "a/ca.crt"), "does not belong"},
		{"another federation's CA", f(p.dir, "a/a.crt"), f(p.dir, "a/a.key"), f(other.dir, "a/ca.crt"), "unknown authority"},
		{"missing file", f(p.dir, "a/none.crt"), f(p.dir, "a/a.key"), f(p.dir, "a/ca.crt"), "no such file"},
		{"CA certificate as a node", f(p.dir, "ca/ca.crt"), f(p.dir, "ca/ca.key"), f(p.dir, "a/ca.crt"), "federation"},
	}
	for _, tt := range tests {
		_, err := LoadIdentity(tt.cert, tt.key, tt.ca)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestValidNodeName(t *testing.T) {
	for name, ok := range map[string]bool{
		"hub": true, "de-node-1": true, "a": true, strings.Repeat("a", 32): true,
		"": false, "De": false, "a--b": false, "-a": false, "a-": false, "a.b": false, strings.Repeat("a", 33): false,
	} {
		if got := ValidNodeName(name) == nil; got != ok {
			t.Errorf("ValidNodeName(%q) ok = %v, want %v", name, got, ok)
		}
	}
}

// TestTLSRefusals: the hub's listener refuses a client certificate of
// another CA, and a member refuses a server whose certificate is not the
// hub's, even when the federation CA signed it.
func TestTLSRefusals(t *testing.T) {
	p := newTestPKI(t)
	hub, member, other := p.identity(t, "hub"), p.identity(t, "de-node"), p.identity(t, "fr-node")
	foreign := newTestPKI(t).identity(t, "de-node")
	tests := []struct {
		name   string
		server *tls.Config
		client *tls.Config
		ok     bool
	}{
		{"member to hub", hub.ServerTLS(), member.ClientTLS("hub"), true},
		{"foreign certificate to hub", hub.ServerTLS(), foreign.ClientTLS("hub"), false},
		{"no certificate to hub", hub.ServerTLS(), &tls.Config{RootCAs: member.roots, ServerName: "hub", MinVersion: tls.VersionTLS13}, false},
		{"member to a node posing as hub", other.ServerTLS(), member.ClientTLS("hub"), false},
	}
	for _, tt := range tests {
		err := handshake(t, tt.server, tt.client)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok = %v", tt.name, err, tt.ok)
		}
	}
}

// handshake runs a TLS handshake over a pipe and returns the first error
// either side saw.
func handshake(t *testing.T, server, client *tls.Config) error {
	t.Helper()
	c1, c2 := netPipe(t)
	errs := make(chan error, 2)
	go func() {
		s := tls.Server(c1, server)
		err := s.Handshake()
		if err == nil {
			// TLS 1.3 servers judge the client certificate after the
			// client's handshake is done; a read shows the verdict.
			_, err = s.Write([]byte{1})
		}
		c1.Close()
		errs <- err
	}()
	go func() {
		c := tls.Client(c2, client)
		err := c.Handshake()
		if err == nil {
			_, err = c.Read(make([]byte, 1))
		}
		c2.Close()
		errs <- err
	}()
	return firstErr(<-errs, <-errs)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// selfSigned is a certificate no federation CA issued, with the node URI.
func selfSigned(t *testing.T) *x509.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "de-node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

func TestVerifyNodeRefusesSelfSigned(t *testing.T) {
	p := newTestPKI(t)
	hub := p.identity(t, "hub")
	if _, err := hub.VerifyNode(selfSigned(t)); err == nil {
		t.Error("self-signed certificate verified")
	}
	if name, err := hub.VerifyNode(p.identity(t, "se-node").Cert); err != nil || name != "se-node" {
		t.Errorf("VerifyNode = %q, %v", name, err)
	}
}
