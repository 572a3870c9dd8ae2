package cmd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/choria-io/fisk"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
)

// connFlags are natscli's connection flags, with its names, variables and
// meanings, so that habits and `nats context` files carry over.
type connFlags struct {
	server, context, creds, nkey string
	noContext, tlsFirst          bool
	user, password, token        string
	tlsCert, tlsKey, tlsCA       string
	timeoutText                  string
	jsDomain, jsAPIPrefix        string
	inboxPrefix, connectionName  string

	// secrets are every credential this run was given (passwords, tokens,
	// URLs' user info): scrub removes them from any message as a last line
	// of defence. Messages are built from parsed values and never quote a
	// user-given URL in the first place.
	secrets []string
}

const defaultURL = "nats://127.0.0.1:4222"

func addConnFlags(f *fisk.Application) *connFlags {
	c := &connFlags{}
	f.Flag("server", "NATS server URLs, comma separated (default "+defaultURL+")").Short('s').Envar("NATS_URL").PlaceHolder("URL").StringVar(&c.server)
	f.Flag("context", "nats context to use: a name or a path to a context file (default: the selected one)").Envar("NATS_CONTEXT").PlaceHolder("NAME").StringVar(&c.context)
	f.Flag("no-context", "Use no nats context, not even the selected one").UnNegatableBoolVar(&c.noContext)
	f.Flag("creds", "User credentials file (holds the user JWT and seed; counter has no --jwt/--seed, which would put a secret on the command line)").Envar("NATS_CREDS").PlaceHolder("FILE").StringVar(&c.creds)
	f.Flag("nkey", "User NKEY seed file").Envar("NATS_NKEY").PlaceHolder("FILE").StringVar(&c.nkey)
	f.Flag("user", "Username, or a token when no --password is given (as in natscli)").Envar("NATS_USER").PlaceHolder("USER").StringVar(&c.user)
	f.Flag("password", "Password").Envar("NATS_PASSWORD").PlaceHolder("PASSWORD").StringVar(&c.password)
	f.Flag("token", "Authentication token").Envar("NATS_TOKEN").PlaceHolder("TOKEN").StringVar(&c.token)
	f.Flag("tlscert", "TLS client certificate file").Envar("NATS_CERT").PlaceHolder("FILE").StringVar(&c.tlsCert)
	f.Flag("tlskey", "TLS client private key file").Envar("NATS_KEY").PlaceHolder("FILE").StringVar(&c.tlsKey)
	f.Flag("tlsca", "TLS certificate authority chain file").Envar("NATS_CA").PlaceHolder("FILE").StringVar(&c.tlsCA)
	f.Flag("tlsfirst", "Perform the TLS handshake before expecting the server greeting").UnNegatableBoolVar(&c.tlsFirst)
	f.Flag("timeout", "Time to wait for the server and for each request, e.g. 5s or 500ms").Envar("NATS_TIMEOUT").Default("5s").PlaceHolder("DURATION").StringVar(&c.timeoutText)
	f.Flag("js-domain", "JetStream domain to use").PlaceHolder("DOMAIN").StringVar(&c.jsDomain)
	f.Flag("js-api-prefix", "JetStream API prefix to use (cross-account imports)").PlaceHolder("PREFIX").StringVar(&c.jsAPIPrefix)
	f.Flag("inbox-prefix", "Custom prefix for reply inboxes (accounts that restrict _INBOX)").PlaceHolder("PREFIX").StringVar(&c.inboxPrefix)
	f.Flag("connection-name", "Name of the connection as the server shows it").Default("counter").PlaceHolder("NAME").StringVar(&c.connectionName)
	return c
}

// timeout parses --timeout (or NATS_TIMEOUT), naming the flag, the value
// and an example when it is not a positive duration.
func (c *connFlags) timeout() (time.Duration, error) {
	d, err := time.ParseDuration(c.timeoutText)
	if err != nil {
		return 0, errkind.Invalidf("--timeout (or NATS_TIMEOUT) %q is not a duration: give a number with a unit, such as 5s or 500ms", c.timeoutText)
	}
	if d <= 0 {
		return 0, errkind.Invalidf("--timeout %s: want a positive duration such as 5s", d)
	}
	return d, nil
}

// settings is the connection configuration after the context and the
// flags are merged: a flag or variable overrides the context.
type settings struct {
	ctx                       *natsContext
	urls                      string
	authFromFlags             bool
	user, password, token     string
	tokenFromUser             bool
	creds, nkey, jwt, seed    string
	cert, key, ca             string
	certWhat, keyWhat, caWhat string
	credsWhat, nkeyWhat       string
	tlsFirst                  bool
	jsDomain, jsAPIPrefix     string
	inboxPrefix               string
}

func (c *connFlags) settings() (*settings, error) {
	nctx, err := loadContext(c.context, c.noContext)
	if err != nil {
		return nil, err
	}
	s := &settings{ctx: nctx, urls: defaultURL}
	if nctx.URL != "" {
		s.urls = nctx.URL
	}
	if c.server != "" {
		s.urls = c.server
	}
	s.authFromFlags = c.user != "" || c.password != "" || c.token != "" || c.creds != "" || c.nkey != ""
	fromCtx := "nats context " + quoteName(nctx.name) + " "
	if s.authFromFlags {
		// Credentials from flags replace the context's as a whole: mixing
		// a context's user with a flag's creds file would be a surprise.
		s.user, s.password, s.token = c.user, c.password, c.token
		s.tokenFromUser = c.user != "" && c.password == ""
		s.creds, s.credsWhat = c.creds, "--creds"
		s.nkey, s.nkeyWhat = c.nkey, "--nkey"
	} else {
		s.user, s.password, s.token = nctx.User, nctx.Password, nctx.Token
		s.creds, s.credsWhat = nctx.Creds, fromCtx+"creds file"
		s.nkey, s.nkeyWhat = nctx.NKey, fromCtx+"nkey file"
		s.jwt, s.seed = nctx.UserJWT, nctx.UserSeed
	}
	pick := func(flag, flagWhat, fromContext, field string) (string, string) {
		if flag != "" {
			return flag, flagWhat
		}
		return fromContext, fromCtx + field
	}
	s.cert, s.certWhat = pick(c.tlsCert, "--tlscert", nctx.Cert, "cert")
	s.key, s.keyWhat = pick(c.tlsKey, "--tlskey", nctx.Key, "key")
	s.ca, s.caWhat = pick(c.tlsCA, "--tlsca", nctx.CA, "ca")
	s.tlsFirst = c.tlsFirst || nctx.TLSFirst
	s.jsDomain, _ = pick(c.jsDomain, "", nctx.JSDomain, "")
	s.jsAPIPrefix, _ = pick(c.jsAPIPrefix, "", nctx.JSAPIPrefix, "")
	s.inboxPrefix, _ = pick(c.inboxPrefix, "", nctx.InboxPrefix, "")
	if s.jsDomain != "" {
		if err := counters.ValidName("--js-domain", s.jsDomain); err != nil {
			return nil, err
		}
	}
	if s.jsAPIPrefix != "" {
		if err := counters.ValidSubject(strings.TrimSuffix(s.jsAPIPrefix, "."), false); err != nil {
			return nil, errkind.Invalidf("--js-api-prefix: %v", err)
		}
	}
	c.secrets = append(c.secrets, s.password, s.token, s.seed, s.jwt, c.password, c.token, nctx.Password, nctx.Token)
	if s.tokenFromUser {
		c.secrets = append(c.secrets, s.user)
	}
	return s, nil
}

// parseServers parses a comma-separated server list the way nats.go does
// (nats:// when no scheme is given) and returns the URLs to dial and their
// printable form: scheme://host:port, never the user info. A URL that does
// not parse is refused without being echoed: it may hold a password.
func (c *connFlags) parseServers(list string) (dial []string, shown string, err error) {
	parts := strings.Split(list, ",")
	var printable []string
	for i, p := range parts {
		p = strings.TrimSpace(p)
		raw := p
		if !strings.Contains(p, "://") {
			p = "nats://" + p
		}
		u, perr := url.Parse(p)
		if u != nil && u.User != nil {
			pw, _ := u.User.Password()
			c.secrets = append(c.secrets, raw, u.User.String(), u.User.Username(), pw)
		} else if perr != nil || u == nil || u.Host == "" {
			// Cannot tell the user info apart: the whole string is secret.
			c.secrets = append(c.secrets, raw)
			if at := strings.LastIndex(raw, "@"); at > 0 {
				c.secrets = append(c.secrets, raw[:at])
			}
		}
		if perr != nil || u.Host == "" || u.Hostname() == "" {
			which := "the server URL"
			if len(parts) > 1 {
				which = fmt.Sprintf("server URL %d of %d", i+1, len(parts))
			}
			return nil, "", errkind.Invalidf("%s does not parse as a URL (not shown: it may hold a password): check -s/--server, NATS_URL or the context's url; percent-encode '#', '?', '/' and '@' in a password, or use --user and --password", which)
		}
		if port := u.Port(); port != "" {
			if n, aerr := strconv.Atoi(port); aerr != nil || n < 1 || n > 65535 {
				return nil, "", errkind.Invalidf("server %s://%s: the port is not a number from 1 to 65535", u.Scheme, u.Hostname())
			}
		}
		dial = append(dial, u.String())
		printable = append(printable, u.Scheme+"://"+u.Host)
	}
	return dial, strings.Join(printable, ","), nil
}

// options turns settings into nats.go options, reading every local file
// itself (bounded, regular files only) instead of leaving that to nats.go.
func (c *connFlags) options(s *settings, timeout time.Duration) ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name(c.connectionName),
		nats.Timeout(timeout),
		// One error, one line: nats.go's default handler would print
		// asynchronous errors (permissions, broken pipes) a second time,
		// raw. counters.Client turns the ones that matter into errors.
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}),
	}
	switch {
	case s.user != "" && s.tokenFromUser:
		opts = append(opts, nats.Token(s.user))
	case s.user != "":
		opts = append(opts, nats.UserInfo(s.user, s.password))
	case s.creds != "":
		data, err := readLocalFile(s.credsWhat, s.creds)
		if err != nil {
			return nil, err
		}
		jwt, err := nkeys.ParseDecoratedJWT(data)
		if err != nil || jwt == "" {
			return nil, errkind.Invalidf("%s %q holds no user JWT: is it a credentials file?", s.credsWhat, s.creds)
		}
		kp, err := nkeys.ParseDecoratedNKey(data)
		if err != nil {
			return nil, errkind.Invalidf("%s %q holds no user seed: is it a credentials file?", s.credsWhat, s.creds)
		}
		seed, err := kp.Seed()
		if err != nil {
			return nil, errkind.Invalidf("%s %q holds no user seed: is it a credentials file?", s.credsWhat, s.creds)
		}
		c.secrets = append(c.secrets, string(seed))
		opts = append(opts, nats.UserJWTAndSeed(jwt, string(seed)))
	case s.nkey != "":
		data, err := readLocalFile(s.nkeyWhat, s.nkey)
		if err != nil {
			return nil, err
		}
		kp, err := nkeys.ParseDecoratedNKey(data)
		if err != nil {
			return nil, errkind.Invalidf("%s %q holds no NKEY seed", s.nkeyWhat, s.nkey)
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return nil, errkind.Invalidf("%s %q holds no NKEY seed", s.nkeyWhat, s.nkey)
		}
		opts = append(opts, nats.Nkey(pub, kp.Sign))
	case s.jwt != "" && s.seed != "":
		opts = append(opts, nats.UserJWTAndSeed(s.jwt, s.seed))
	case s.jwt != "":
		jwt := s.jwt
		opts = append(opts, nats.UserJWT(func() (string, error) { return jwt, nil }, func([]byte) ([]byte, error) { return nil, nil }))
	}
	if s.token != "" {
		opts = append(opts, nats.Token(s.token))
	}
	tlsOpt, err := tlsOption(s)
	if err != nil {
		return nil, err
	}
	if tlsOpt != nil {
		opts = append(opts, tlsOpt)
	}
	if s.tlsFirst {
		opts = append(opts, nats.TLSHandshakeFirst())
	}
	if s.inboxPrefix != "" {
		if err := counters.ValidSubject(s.inboxPrefix, true); err != nil {
			return nil, errkind.Invalidf("--inbox-prefix: %v", err)
		}
		if !counters.IsLiteral(s.inboxPrefix) {
			return nil, errkind.Invalidf("--inbox-prefix %q has a wildcard: give the literal prefix your account allows for replies, such as _INBOX_myapp", s.inboxPrefix)
		}
		opts = append(opts, nats.CustomInboxPrefix(s.inboxPrefix))
	}
	return opts, nil
}

// tlsOption builds the TLS configuration from bounded reads of the
// certificate, key and CA files; nil when none is given.
func tlsOption(s *settings) (nats.Option, error) {
	if s.cert == "" && s.key == "" && s.ca == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if (s.cert == "") != (s.key == "") {
		return nil, errkind.Invalidf("a TLS client certificate needs both --tlscert and --tlskey")
	}
	if s.cert != "" {
		certPEM, err := readLocalFile(s.certWhat, s.cert)
		if err != nil {
			return nil, err
		}
		keyPEM, err := readLocalFile(s.keyWhat, s.key)
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, errkind.Invalidf("%s %q and %s %q cannot be used together: %s", s.certWhat, s.cert, s.keyWhat, s.key, strings.TrimPrefix(err.Error(), "tls: "))
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if s.ca != "" {
		caPEM, err := readLocalFile(s.caWhat, s.ca)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errkind.Invalidf("%s %q holds no PEM certificate", s.caWhat, s.ca)
		}
		cfg.RootCAs = pool
	}
	return nats.Secure(cfg), nil
}

// connect dials NATS with the flags laid over the selected context and
// returns a counters client. reconnect keeps the connection alive across
// server restarts (watch); one-shot verbs fail fast instead. A signal
// (ctx cancelled) ends the wait at any stage.
func (c *connFlags) connect(ctx context.Context, reconnect bool) (*counters.Client, error) {
	timeout, err := c.timeout()
	if err != nil {
		return nil, err
	}
	s, err := c.settings()
	if err != nil {
		return nil, err
	}
	servers, shown, err := c.parseServers(s.urls)
	if err != nil {
		return nil, err
	}
	opts, err := c.options(s, timeout)
	if err != nil {
		return nil, err
	}
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
		nc, err := nats.Connect(strings.Join(servers, ","), opts...)
		done <- dialed{nc, err}
	}()
	var nc *nats.Conn
	select {
	case d := <-done:
		if d.err != nil {
			return nil, c.connectError(shown, s, d.err)
		}
		nc = d.nc
	case <-ctx.Done():
		go func() {
			if d := <-done; d.nc != nil {
				d.nc.Close()
			}
		}()
		return nil, fmt.Errorf("interrupted while connecting to %s: nothing was sent", shown)
	}
	client, err := counters.New(nc, counters.Options{
		Domain:    s.jsDomain,
		APIPrefix: s.jsAPIPrefix,
		Timeout:   timeout,
	})
	if err != nil {
		nc.Close()
		return nil, err
	}
	return client, nil
}

// connectError says what failed and what to do: local problems (files,
// TLS settings) get local advice; only an unreachable server suggests
// starting one.
func (c *connFlags) connectError(where string, s *settings, err error) error {
	msg := strings.ToLower(err.Error())
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.Is(err, nats.ErrAuthorization), strings.Contains(msg, "authorization"), strings.Contains(msg, "authentication"):
		if !s.authFromFlags && s.ctx.name != "" {
			return errkind.Unavailablef("cannot connect to %s: authorization failed with the credentials of nats context %s (%s): check that context, or pass --creds, --nkey, --user/--password or --token", where, quoteName(s.ctx.name), s.ctx.path)
		}
		return errkind.Unavailablef("cannot connect to %s: authorization failed: check --creds, --nkey, --user/--password or --token", where)
	case errors.As(err, &unknownCA), strings.Contains(msg, "certificate signed by unknown authority"):
		return errkind.Unavailablef("cannot connect to %s: the server's TLS certificate is signed by an authority this machine does not trust: pass its CA with --tlsca", where)
	case errors.As(err, &hostErr):
		return errkind.Unavailablef("cannot connect to %s: the server's TLS certificate is not valid for that host name: connect by a name the certificate holds", where)
	case strings.Contains(msg, "certificate required"),
		strings.Contains(msg, "after tls handshake") && s.cert == "":
		return errkind.Unavailablef("cannot connect to %s: the server requires a TLS client certificate: pass --tlscert and --tlskey", where)
	case strings.Contains(msg, "after tls handshake"):
		return errkind.Unavailablef("cannot connect to %s: the server closed the connection after the TLS handshake: it does not accept the client certificate from %s %q", where, s.certWhat, s.cert)
	case errors.Is(err, nats.ErrSecureConnRequired), strings.Contains(msg, "secure connection") && strings.Contains(msg, "required"):
		return errkind.Unavailablef("cannot connect to %s: the server requires TLS: use a tls:// URL or --tlsca", where)
	case errors.Is(err, nats.ErrSecureConnWanted):
		return errkind.Unavailablef("cannot connect to %s: the server does not offer TLS: use a nats:// URL, or enable TLS on the server", where)
	case strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"), strings.Contains(msg, "tls error"):
		return errkind.Unavailablef("cannot connect to %s: TLS failed (%s): check --tlscert, --tlskey, --tlsca and --tlsfirst", where, c.scrub(err.Error()))
	case errors.Is(err, nats.ErrNoServers):
		return errkind.Unavailablef("cannot connect to %s: no server answered: start one locally with 'counter server', or point -s/--server or --context at yours", where)
	}
	return errkind.Unavailablef("cannot connect to %s: %s: start one locally with 'counter server', or point -s/--server or --context at yours", where, c.scrub(err.Error()))
}

// scrub replaces every credential this run was given, and any user info
// in a URL, with ***.
func (c *connFlags) scrub(s string) string {
	for _, secret := range c.secrets {
		if len(secret) >= 3 {
			s = strings.ReplaceAll(s, secret, "***")
		}
	}
	return redact(s)
}

// userInfo matches credentials embedded in URLs (nats://user:pass@host).
var userInfo = regexp.MustCompile(`([a-z]+://)[^@/\s]+@`)

// redact removes credentials from anything that may carry a URL.
func redact(s string) string { return userInfo.ReplaceAllString(s, "${1}***@") }
