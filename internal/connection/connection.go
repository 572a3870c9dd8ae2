// Package connection turns natscli's connection settings (flags,
// environment variables and `nats context` files) into a NATS connection,
// with natscli's meaning for each of them.
//
// It owns everything between "what the user gave" and "a connected
// *nats.Conn": the Options the command line fills in, the reader of
// context files (counter reads them itself, without linking jsm.go), the
// bounded and non-blocking reads of creds, key, certificate and context
// files, the parsing of server URLs, and the scrubbing of secrets from
// messages. A credential reference it cannot honour (op://, nsc://) is
// refused, and so is a server URL whose user info it cannot place; neither
// is ever echoed, and nothing is dialed. Every error carries an errkind.
package connection

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/errkind"
)

// DefaultURL is the server counter dials when neither a flag, a variable
// nor a context names one (natscli's default too).
const DefaultURL = "nats://127.0.0.1:4222"

// Options are the connection settings as given on the command line (or by
// the environment variables the command line binds): natscli's flags, one
// field each. A context's settings fill in what these leave empty.
type Options struct {
	// Servers is a comma-separated list of server URLs.
	Servers string
	// Context is a context name, or a path to a context file; empty means
	// the selected context, unless NoContext.
	Context   string
	NoContext bool

	Creds, NKey           string // files
	User, Password, Token string
	TLSCert, TLSKey       string // files
	TLSCA                 string // file
	TLSFirst              bool

	// Timeout is the --timeout text (a duration such as 5s); see
	// ParseTimeout.
	Timeout string

	JSDomain, JSAPIPrefix string
	InboxPrefix           string
	// Name is the connection's name as the server shows it.
	Name string
}

// ParseTimeout parses Timeout, naming the flag, the value and an example
// when it is not a positive duration.
func (o Options) ParseTimeout() (time.Duration, error) {
	d, err := time.ParseDuration(o.Timeout)
	if err != nil {
		return 0, errkind.Invalidf("--timeout (or NATS_TIMEOUT) %q is not a duration: give a number with a unit, such as 5s or 500ms", o.Timeout)
	}
	if d <= 0 {
		return 0, errkind.Invalidf("--timeout %s: want a positive duration such as 5s", d)
	}
	return d, nil
}

// Conn is a connection and the JetStream settings that go with it: what a
// caller needs to build its JetStream client (counters.New).
type Conn struct {
	NC *nats.Conn
	// Domain and APIPrefix address JetStream (at most one is set).
	Domain, APIPrefix string
	// Timeout is the parsed --timeout, for each request.
	Timeout time.Duration
}

// Dial connects with the options laid over the selected context. reconnect
// keeps the connection alive across server restarts (watch); one-shot
// verbs fail fast instead. A cancelled ctx (a signal) ends the wait at any
// stage. Every credential met on the way is recorded in secrets (which may
// be nil) so that later messages can be scrubbed of it; the errors Dial
// returns are already scrubbed.
func Dial(ctx context.Context, o Options, reconnect bool, secrets *Secrets) (*Conn, error) {
	timeout, err := o.ParseTimeout()
	if err != nil {
		return nil, err
	}
	p, err := resolve(o, timeout, secrets)
	if err != nil {
		return nil, err
	}
	opts := p.opts
	if reconnect {
		opts = append(opts, nats.MaxReconnects(-1), nats.RetryOnFailedConnect(false))
	} else {
		opts = append(opts, nats.NoReconnect())
	}
	type dialed struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan dialed, 1)
	go func() {
		nc, err := nats.Connect(strings.Join(p.servers, ","), opts...)
		done <- dialed{nc, err}
	}()
	select {
	case d := <-done:
		if d.err != nil {
			return nil, connectError(p.shown, p.settings, d.err, secrets)
		}
		return &Conn{NC: d.nc, Domain: p.jsDomain, APIPrefix: p.jsAPIPrefix, Timeout: timeout}, nil
	case <-ctx.Done():
		go func() {
			if d := <-done; d.nc != nil {
				d.nc.Close()
			}
		}()
		return nil, fmt.Errorf("interrupted while connecting to %s: nothing was sent", p.shown)
	}
}

// connectError says what failed and what to do: local problems (files,
// TLS settings) get local advice; only an unreachable server suggests
// starting one.
func connectError(where string, s *settings, err error, secrets *Secrets) error {
	msg := strings.ToLower(err.Error())
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.Is(err, nats.ErrAuthorization), strings.Contains(msg, "authorization"), strings.Contains(msg, "authentication"):
		if !s.authFromFlags && s.ctx.name != "" {
			return errkind.Unavailablef("cannot connect to %s: authorization failed with the credentials of nats context %q (%s): check that context, or pass --creds, --nkey, --user/--password or --token", where, s.ctx.name, s.ctx.path)
		}
		return errkind.Unavailablef("cannot connect to %s: authorization failed: check --creds, --nkey, --user/--password or --token", where)
	case errors.As(err, &unknownCA), strings.Contains(msg, "certificate signed by unknown authority"):
		return errkind.Unavailablef("cannot connect to %s: the server's TLS certificate is signed by an authority this machine does not trust: pass its CA with --tlsca", where)
	case errors.As(err, &hostErr):
		return errkind.Unavailablef("cannot connect to %s: the server's TLS certificate is not valid for that host name: connect by a name the certificate holds", where)
	case strings.Contains(msg, "certificate required"),
		strings.Contains(msg, "after tls handshake") && !s.cert.set():
		return errkind.Unavailablef("cannot connect to %s: the server requires a TLS client certificate: pass --tlscert and --tlskey", where)
	case strings.Contains(msg, "after tls handshake"):
		return errkind.Unavailablef("cannot connect to %s: the server closed the connection after the TLS handshake: it does not accept the client certificate from %s", where, s.cert)
	case errors.Is(err, nats.ErrSecureConnRequired), strings.Contains(msg, "secure connection") && strings.Contains(msg, "required"):
		return errkind.Unavailablef("cannot connect to %s: the server requires TLS: use a tls:// URL or --tlsca", where)
	case errors.Is(err, nats.ErrSecureConnWanted):
		return errkind.Unavailablef("cannot connect to %s: the server does not offer TLS: use a nats:// URL, or enable TLS on the server", where)
	case strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"), strings.Contains(msg, "tls error"):
		return errkind.Unavailablef("cannot connect to %s: TLS failed (%s): check --tlscert, --tlskey, --tlsca and --tlsfirst", where, secrets.Scrub(err.Error()))
	case errors.Is(err, nats.ErrNoServers):
		return errkind.Unavailablef("cannot connect to %s: no server answered: start one locally with 'counter server', or point -s/--server or --context at yours", where)
	}
	return errkind.Unavailablef("cannot connect to %s: %s: start one locally with 'counter server', or point -s/--server or --context at yours", where, secrets.Scrub(err.Error()))
}
