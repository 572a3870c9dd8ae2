package connection

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
)

// settings is the connection configuration after the context and the
// options are merged: a flag or variable overrides the context's field,
// and credentials given as flags replace the context's as a whole (mixing
// a context's user with a flag's creds file would be a surprise).
type settings struct {
	ctx                   *natsContext
	urls, urlsFrom        string
	authFromFlags         bool
	user, password, token string
	creds, nkey           source
	jwt, seed             string
	cert, key, ca         source
	tlsFirst              bool
	jsDomain, jsAPIPrefix string
	inboxPrefix           string
}

// plan is what Dial needs: the merged settings, the URLs to dial and
// their printable form, and the nats.go options.
type plan struct {
	*settings
	servers []string
	shown   string
	opts    []nats.Option
}

// resolve merges the options with the context, parses the servers and
// builds the nats.go options: everything short of dialing. Every local
// file is read here, by counter (bounded, regular files only), not left to
// nats.go.
func resolve(o Options, timeout time.Duration, secrets *Secrets) (*plan, error) {
	s, err := merge(o, secrets)
	if err != nil {
		return nil, err
	}
	servers, shown, err := parseServers(s.urls, s.urlsFrom, secrets)
	if err != nil {
		return nil, err
	}
	opts, err := s.natsOptions(o.Name, timeout, secrets)
	if err != nil {
		return nil, err
	}
	return &plan{settings: s, servers: servers, shown: shown, opts: opts}, nil
}

// merge lays the options over the context. A credential is resolved (a
// file named, a reference decoded or refused) only when it is the one the
// connection will use: natscli picks a user and password first, then
// creds, then an nkey, then user_jwt (and user_seed), and sends a token
// besides.
func merge(o Options, secrets *Secrets) (*settings, error) {
	nctx, err := loadContext(o.Context, o.NoContext)
	if err != nil {
		return nil, err
	}
	s := &settings{ctx: nctx, urls: DefaultURL, urlsFrom: "the default server"}
	switch {
	case o.Servers != "":
		s.urls, s.urlsFrom = o.Servers, "-s/--server (or NATS_URL)"
	case nctx.URL != "":
		s.urls, s.urlsFrom = nctx.URL, fmt.Sprintf("nats context %q: url", nctx.name)
	}
	// Every secret given, used or not, is scrubbed from messages.
	secrets.add(o.Password, o.Token, nctx.Password, nctx.Token, nctx.UserJWT, nctx.UserSeed)
	if o.Password == "" {
		secrets.add(o.User)
	}
	flag := func(field string) setting { return setting{field: field} }
	field := func(name string) setting { return setting{field: name, ctx: nctx} }
	// The first error is reported; the steps after it only resolve.
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	str := func(v string, err error) string { keep(err); return v }
	src := func(v source, err error) source { keep(err); return v }

	s.authFromFlags = o.User != "" || o.Password != "" || o.Token != "" || o.Creds != "" || o.NKey != ""
	if s.authFromFlags {
		if o.Token != "" {
			s.token = str(flag("token").value(o.Token, secrets))
		}
		switch {
		case o.User != "" && o.Password == "":
			// As in natscli: --user without --password is a token.
			s.token = str(flag("user").value(o.User, secrets))
		case o.User != "":
			s.user = o.User
			s.password = str(flag("password").value(o.Password, secrets))
		}
		switch {
		case s.user != "":
			// A user and password win, as in natscli.
		case o.Creds != "":
			s.creds = src(flag("creds").material(o.Creds, secrets))
		case o.NKey != "":
			s.nkey = src(flag("nkey").material(o.NKey, secrets))
		}
	} else {
		switch {
		case nctx.User != "":
			s.user = nctx.User
			s.password = str(field("password").value(nctx.Password, secrets))
		case nctx.Creds != "":
			s.creds = src(field("creds").material(nctx.Creds, secrets))
		case nctx.NKey != "":
			s.nkey = src(field("nkey").material(nctx.NKey, secrets))
		case nctx.UserJWT != "":
			s.jwt = str(field("user_jwt").value(nctx.UserJWT, secrets))
			if nctx.UserSeed != "" {
				s.seed = str(field("user_seed").value(nctx.UserSeed, secrets))
			}
		}
		if nctx.Token != "" {
			s.token = str(field("token").value(nctx.Token, secrets))
		}
	}
	file := func(flagValue, name, contextValue string) source {
		switch {
		case flagValue != "":
			return src(flag(name).file(flagValue))
		case contextValue != "":
			return src(field(name).file(contextValue))
		}
		return source{}
	}
	s.cert = file(o.TLSCert, "cert", nctx.Cert)
	s.key = file(o.TLSKey, "key", nctx.Key)
	s.ca = file(o.TLSCA, "ca", nctx.CA)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	s.tlsFirst = o.TLSFirst || nctx.TLSFirst

	// The JetStream and inbox settings, checked before anything is sent.
	pick := func(flagValue, flagName, contextValue, contextField string) (string, string) {
		if flagValue != "" {
			return flagValue, flagName
		}
		return contextValue, fmt.Sprintf("nats context %q: %s", nctx.name, contextField)
	}
	var domainFrom, prefixFrom, inboxFrom string
	s.jsDomain, domainFrom = pick(o.JSDomain, "--js-domain", nctx.JSDomain, "jetstream_domain")
	s.jsAPIPrefix, prefixFrom = pick(o.JSAPIPrefix, "--js-api-prefix", nctx.JSAPIPrefix, "jetstream_api_prefix")
	s.inboxPrefix, inboxFrom = pick(o.InboxPrefix, "--inbox-prefix", nctx.InboxPrefix, "inbox_prefix")
	if s.jsDomain != "" {
		if err := counters.ValidName(domainFrom, s.jsDomain); err != nil {
			return nil, err
		}
	}
	if s.jsAPIPrefix != "" {
		if err := counters.ValidSubject(strings.TrimSuffix(s.jsAPIPrefix, "."), false); err != nil {
			return nil, errkind.Invalidf("%s: %v", prefixFrom, err)
		}
	}
	if s.jsDomain != "" && s.jsAPIPrefix != "" {
		return nil, errkind.Invalidf("%s and %s cannot be used together: a JetStream domain is a shorthand for an API prefix", domainFrom, prefixFrom)
	}
	if s.inboxPrefix != "" {
		if err := counters.ValidSubject(s.inboxPrefix, true); err != nil {
			return nil, errkind.Invalidf("%s: %v", inboxFrom, err)
		}
		if !counters.IsLiteral(s.inboxPrefix) {
			return nil, errkind.Invalidf("%s %q has a wildcard: give the literal prefix your account allows for replies, such as _INBOX_myapp", inboxFrom, s.inboxPrefix)
		}
	}
	return s, nil
}

// natsOptions turns settings into nats.go options, reading every local
// file itself.
func (s *settings) natsOptions(name string, timeout time.Duration, secrets *Secrets) ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.Timeout(timeout),
		// One error, one line: nats.go's default handler would print
		// asynchronous errors (permissions, broken pipes) a second time,
		// raw. The JetStream client turns the ones that matter into
		// errors.
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}),
	}
	switch {
	case s.user != "":
		opts = append(opts, nats.UserInfo(s.user, s.password))
	case s.creds.set():
		data, err := s.creds.read()
		if err != nil {
			return nil, err
		}
		jwt, err := nkeys.ParseDecoratedJWT(data)
		if err != nil || jwt == "" {
			return nil, errkind.Invalidf("%s holds no user JWT: is it a credentials file?", s.creds)
		}
		seed, err := seedOf(data)
		if err != nil {
			return nil, errkind.Invalidf("%s holds no user seed: is it a credentials file?", s.creds)
		}
		secrets.add(jwt, seed)
		opts = append(opts, nats.UserJWTAndSeed(jwt, seed))
	case s.nkey.set():
		data, err := s.nkey.read()
		if err != nil {
			return nil, err
		}
		kp, err := nkeys.ParseDecoratedNKey(data)
		if err != nil {
			return nil, errkind.Invalidf("%s holds no NKEY seed", s.nkey)
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return nil, errkind.Invalidf("%s holds no NKEY seed", s.nkey)
		}
		if seed, err := kp.Seed(); err == nil {
			secrets.add(string(seed))
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
	tlsOpt, err := s.tlsOption()
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
		opts = append(opts, nats.CustomInboxPrefix(s.inboxPrefix))
	}
	return opts, nil
}

// seedOf is the user seed a creds file holds.
func seedOf(creds []byte) (string, error) {
	kp, err := nkeys.ParseDecoratedNKey(creds)
	if err != nil {
		return "", err
	}
	seed, err := kp.Seed()
	if err != nil {
		return "", err
	}
	return string(seed), nil
}

// tlsOption builds the TLS configuration from bounded reads of the
// certificate, key and CA files; nil when none is given. A certificate
// without its key (or a key without its certificate) is refused: natscli
// would quietly connect without a client certificate.
func (s *settings) tlsOption() (nats.Option, error) {
	if !s.cert.set() && !s.key.set() && !s.ca.set() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case s.cert.set() && !s.key.set():
		return nil, errkind.Invalidf("%s without a key: a TLS client certificate needs both --tlscert and --tlskey (a context's cert and key)", s.cert)
	case s.key.set() && !s.cert.set():
		return nil, errkind.Invalidf("%s without a certificate: a TLS client certificate needs both --tlscert and --tlskey (a context's cert and key)", s.key)
	}
	if s.cert.set() {
		certPEM, err := s.cert.read()
		if err != nil {
			return nil, err
		}
		keyPEM, err := s.key.read()
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, errkind.Invalidf("%s and %s cannot be used together: %s", s.cert, s.key, strings.TrimPrefix(err.Error(), "tls: "))
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if s.ca.set() {
		caPEM, err := s.ca.read()
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errkind.Invalidf("%s holds no PEM certificate", s.ca)
		}
		cfg.RootCAs = pool
	}
	return nats.Secure(cfg), nil
}
