package respond

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"
)

// emailMessage is an e-mail rendered for one alert, as stored in the
// outbox. The password is not: PasswordEnv names the environment variable
// read at delivery time.
type emailMessage struct {
	Host        string        `json:"host"`
	Port        int           `json:"port"`
	From        string        `json:"from"`
	To          []string      `json:"to"`
	Subject     string        `json:"subject"`
	Body        string        `json:"body"`
	Username    string        `json:"username,omitempty"`
	PasswordEnv string        `json:"password_env,omitempty"`
	RequireTLS  bool          `json:"require_tls,omitempty"`
	Timeout     time.Duration `json:"timeout"`
}

// sendEmail delivers m over SMTP, upgrading with STARTTLS whenever the
// server offers it.
func (r *Responder) sendEmail(ctx context.Context, d Delivery, m *emailMessage) result {
	timeout := m.Timeout
	if timeout <= 0 || timeout > maxActionTimeout {
		timeout = defaultActionTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(m.Host, strconv.Itoa(m.Port))
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return result{err: err}
	}
	defer conn.Close()
	// net/smtp has no context: a deadline on the connection bounds the
	// whole conversation, and closing on cancel ends it early.
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	err = r.smtpConversation(conn, d, m)
	var tp *textproto.Error
	if errors.As(err, &tp) && tp.Code >= 500 {
		return result{err: err, permanent: true}
	}
	if errors.Is(err, errTLSRequired) {
		return result{err: err, permanent: true}
	}
	return result{err: err}
}

var errTLSRequired = errors.New("server does not offer STARTTLS and the action requires TLS")

func (r *Responder) smtpConversation(conn net.Conn, d Delivery, m *emailMessage) error {
	c, err := smtp.NewClient(conn, m.Host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello(r.opts.SMTPHello); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := &tls.Config{}
		if r.opts.SMTPTLS != nil {
			cfg = r.opts.SMTPTLS.Clone()
		}
		cfg.ServerName = m.Host
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	} else if m.RequireTLS {
		return errTLSRequired
	}
	if m.Username != "" {
		// PlainAuth itself refuses to send the password over a connection
		// that is neither TLS nor to localhost.
		if err := c.Auth(smtp.PlainAuth("", m.Username, os.Getenv(m.PasswordEnv), m.Host)); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return err
	}
	for _, to := range m.To {
		if err := c.Rcpt(to); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(r.composeMessage(d, m)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// composeMessage builds the RFC 5322 message. Header values come from the
// playbook (validated addresses) and the rendered subject (one line,
// encoded if not ASCII), so alert content cannot add headers.
func (r *Responder) composeMessage(d Delivery, m *emailMessage) []byte {
	var b strings.Builder
	id := sha256.Sum256([]byte(d.Key))
	fmt.Fprintf(&b, "From: %s\r\n", m.From)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(m.To, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", r.opts.Now().Format(time.RFC1123Z))
	// One Message-ID per delivery, not per attempt, so mail clients fold
	// a message that a retry sent twice.
	fmt.Fprintf(&b, "Message-ID: <%s@xsoc>\r\n", hex.EncodeToString(id[:12]))
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("Content-Transfer-Encoding: 8bit\r\n")
	b.WriteString("Auto-Submitted: auto-generated\r\n")
	fmt.Fprintf(&b, "X-Xsoc-Playbook: %s\r\n", d.Playbook)
	b.WriteString("\r\n")
	// The DotWriter from Data turns bare "\n" into "\r\n" and stuffs dots.
	b.WriteString(m.Body)
	if !strings.HasSuffix(m.Body, "\n") {
		b.WriteString("\n")
	}
	return []byte(b.String())
}
