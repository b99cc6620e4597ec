package federation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// NodeURI is the URI every node certificate carries besides its name. The
// hub binds leaf connections presenting a certificate with it to the
// federation account (and refuses any other certificate), so that a
// certificate the federation CA issued for some other purpose opens
// nothing.
const NodeURI = "urn:xsoc:federation:node"

// Validity of what the PKI issues.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	nodeValidity = 825 * 24 * time.Hour
)

// File names the PKI writes.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// NodeCertFile and NodeKeyFile name a node's certificate and key in the
// directory "xsoc federation cert" writes them to.
func NodeCertFile(name string) string { return name + ".crt" }

// NodeKeyFile names a node's private key; see NodeCertFile.
func NodeKeyFile(name string) string { return name + ".key" }

// nodeName is the form of a node name: a DNS label of lower-case letters,
// digits and single hyphens, at most 32 characters. Names appear in
// certificates, NATS subjects, JetStream domains and remote member ids
// ("<node>--<member>"), which is why "--" is not allowed.
var nodeName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

// ValidNodeName reports whether s may name a federation node, and why not.
func ValidNodeName(s string) error {
	if !nodeName.MatchString(s) || strings.Contains(s, "--") {
		return fmt.Errorf("federation: node name %q: want 1-32 characters of a-z, 0-9 and single '-', starting and ending with a letter or digit", s)
	}
	return nil
}

// CA is the federation's certificate authority: every node's certificate
// is signed by it, and every node trusts only it on the leaf link.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewCA creates a CA named name (its common name), valid from now.
func NewCA(name string, now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"xsoc federation"}},
		NotBefore:             now.Add(-time.Hour), // tolerate clocks a little behind
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Save writes the CA certificate and key to dir (created if missing) as
// PEM files readable by the owner only. It refuses to overwrite an
// existing CA: replacing it would lock every node out.
func (ca *CA) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(ca.Key)
	if err != nil {
		return err
	}
	if err := writeNew(filepath.Join(dir, CAKeyFile), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})); err != nil {
		return err
	}
	return writeNew(filepath.Join(dir, CACertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}))
}

// LoadCA reads a CA that Save wrote.
func LoadCA(dir string) (*CA, error) {
	cert, err := readCert(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, err
	}
	key, err := readKey(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("federation: %s is not a CA certificate", filepath.Join(dir, CACertFile))
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("federation: %s does not belong to %s", CAKeyFile, CACertFile)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// NodeCert is a node's certificate and key, with the CA that signed it.
type NodeCert struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	CA   *x509.Certificate
}

// Issue creates the certificate of node name, valid from now. The
// certificate names the node in its common name and as a DNS name, plus
// hosts (DNS names or IP addresses a hub is reached at); it serves both
// ends of a TLS connection.
func (ca *CA) Issue(name string, hosts []string, now time.Time) (*NodeCert, error) {
	if err := ValidNodeName(name); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	uri, _ := url.Parse(NodeURI)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"xsoc federation"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(nodeValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{name},
		URIs:         []*url.URL{uri},
	}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		switch ip := net.ParseIP(h); {
		case h == "":
		case ip != nil:
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		case h != name:
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &NodeCert{Cert: cert, Key: key, CA: ca.Cert}, nil
}

// Save writes <name>.crt, <name>.key and ca.crt to dir, readable by the
// owner only, replacing earlier files of the same node.
func (nc *NodeCert) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(nc.Key)
	if err != nil {
		return err
	}
	name := nc.Cert.Subject.CommonName
	for _, f := range []struct {
		file, typ string
		der       []byte
	}{
		{NodeKeyFile(name), "EC PRIVATE KEY", keyDER},
		{NodeCertFile(name), "CERTIFICATE", nc.Cert.Raw},
		{CACertFile, "CERTIFICATE", nc.CA.Raw},
	} {
		if err := writePEM(filepath.Join(dir, f.file), f.typ, f.der); err != nil {
			return err
		}
	}
	return nil
}

// Identity is a node's federation credentials, loaded for use: its name,
// certificate and key, and the federation CA it trusts.
type Identity struct {
	// Name is the node name, from the certificate's common name.
	Name string
	Cert *x509.Certificate
	// certHeader is Cert as every sealed message carries it (base64).
	certHeader string
	key        *ecdsa.PrivateKey
	roots      *x509.CertPool
	ca         *x509.Certificate
}

// LoadIdentity reads a node's certificate, key and the federation CA's
// certificate, and checks that they belong together: the key matches the
// certificate, the CA signed it, and it is a node certificate.
func LoadIdentity(certFile, keyFile, caFile string) (*Identity, error) {
	cert, err := readCert(certFile)
	if err != nil {
		return nil, err
	}
	key, err := readKey(keyFile)
	if err != nil {
		return nil, err
	}
	ca, err := readCert(caFile)
	if err != nil {
		return nil, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("federation: key %s does not belong to certificate %s", keyFile, certFile)
	}
	id := &Identity{Name: cert.Subject.CommonName, Cert: cert, certHeader: base64.StdEncoding.EncodeToString(cert.Raw),
		key: key, roots: x509.NewCertPool(), ca: ca}
	id.roots.AddCert(ca)
	if _, err := id.VerifyNode(cert); err != nil {
		return nil, fmt.Errorf("federation: certificate %s: %w", certFile, err)
	}
	return id, nil
}

// tlsCertificate is the identity as crypto/tls wants it.
func (id *Identity) tlsCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{id.Cert.Raw}, PrivateKey: id.key, Leaf: id.Cert}
}

// ServerTLS is the TLS configuration of a hub's leaf listener: it presents
// the node's certificate and requires a client certificate signed by the
// federation CA.
func (id *Identity) ServerTLS() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.tlsCertificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    id.roots,
	}
}

// ClientTLS is the TLS configuration of a member's link to the hub named
// hub: it presents the node's certificate and accepts only a certificate
// the federation CA issued to that hub — not to any other node — whatever
// address the hub is dialled at.
func (id *Identity) ClientTLS(hub string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.tlsCertificate()},
		RootCAs:      id.roots,
		ServerName:   hub,
	}
}

// VerifyNode checks that cert is a node certificate the federation CA
// issued and returns the node's name.
func (id *Identity) VerifyNode(cert *x509.Certificate) (string, error) {
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:     id.roots,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return "", err
	}
	name := cert.Subject.CommonName
	if err := ValidNodeName(name); err != nil {
		return "", err
	}
	hasURI := false
	for _, u := range cert.URIs {
		hasURI = hasURI || u.String() == NodeURI
	}
	if !hasURI {
		return "", fmt.Errorf("not a federation node certificate (no %s)", NodeURI)
	}
	return name, nil
}

// sign signs a SHA-256 digest with the node's key (ECDSA P-256, ASN.1).
func (id *Identity) sign(digest []byte) ([]byte, error) {
	return ecdsa.SignASN1(rand.Reader, id.key, digest)
}

// verifySignature checks sig over a SHA-256 digest against cert's key.
func verifySignature(cert *x509.Certificate, digest, sig []byte) error {
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return errors.New("certificate key is not ECDSA")
	}
	if !ecdsa.VerifyASN1(pub, digest, sig) {
		return errors.New("signature does not verify")
	}
	return nil
}

func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// writeNew writes a file, readable by the owner only, that must not
// exist yet: CA keys and secrets are never replaced by accident.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("federation: %s exists; refusing to replace it", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writePEM writes a PEM file readable by the owner only, replacing it.
func writePEM(path, typ string, der []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readPEM(path, typ string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("federation: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != typ {
		return nil, fmt.Errorf("federation: %s: no PEM %s", path, typ)
	}
	return block.Bytes, nil
}

func readCert(path string) (*x509.Certificate, error) {
	der, err := readPEM(path, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("federation: %s: %w", path, err)
	}
	return cert, nil
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	der, err := readPEM(path, "EC PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	key, err := x509.ParseECPrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("federation: %s: %w", path, err)
	}
	return key, nil
}
