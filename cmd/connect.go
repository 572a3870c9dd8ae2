package cmd

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/choria-io/fisk"
	"github.com/nats-io/jsm.go/natscontext"
	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/counters"
)

// connFlags are natscli's connection flags, with its names and variables,
// so that habits and `nats context` files carry over.
type connFlags struct {
	server, context, creds, nkey string
	user, password, token        string
	tlsCert, tlsKey, tlsCA       string
	timeout                      time.Duration
	jsDomain, jsAPIPrefix        string
}

const defaultURL = "nats://127.0.0.1:4222"

func addConnFlags(f *fisk.Application) *connFlags {
	c := &connFlags{}
	f.Flag("server", "NATS server URLs, comma separated (default "+defaultURL+")").Short('s').Envar("NATS_URL").PlaceHolder("URL").StringVar(&c.server)
	f.Flag("context", "nats context to use (default: the selected one)").Envar("NATS_CONTEXT").PlaceHolder("NAME").StringVar(&c.context)
	f.Flag("creds", "User credentials file").Envar("NATS_CREDS").PlaceHolder("FILE").StringVar(&c.creds)
	f.Flag("nkey", "User NKEY seed file").Envar("NATS_NKEY").PlaceHolder("FILE").StringVar(&c.nkey)
	f.Flag("user", "Username or token").Envar("NATS_USER").PlaceHolder("USER").StringVar(&c.user)
	f.Flag("password", "Password").Envar("NATS_PASSWORD").PlaceHolder("PASSWORD").StringVar(&c.password)
	f.Flag("token", "Authentication token").Envar("NATS_TOKEN").PlaceHolder("TOKEN").StringVar(&c.token)
	f.Flag("tlscert", "TLS client certificate file").Envar("NATS_CERT").PlaceHolder("FILE").ExistingFileVar(&c.tlsCert)
	f.Flag("tlskey", "TLS client private key file").Envar("NATS_KEY").PlaceHolder("FILE").ExistingFileVar(&c.tlsKey)
	f.Flag("tlsca", "TLS certificate authority chain file").Envar("NATS_CA").PlaceHolder("FILE").ExistingFileVar(&c.tlsCA)
	f.Flag("timeout", "Time to wait for the server and for each request").Envar("NATS_TIMEOUT").Default("5s").DurationVar(&c.timeout)
	f.Flag("js-domain", "JetStream domain to use").PlaceHolder("DOMAIN").StringVar(&c.jsDomain)
	f.Flag("js-api-prefix", "JetStream API prefix to use (cross-account imports)").PlaceHolder("PREFIX").StringVar(&c.jsAPIPrefix)
	return c
}

// connect dials NATS with the flags laid over the selected context and
// returns a counters client. reconnect keeps the connection alive across
// server restarts (watch); one-shot verbs fail fast instead.
func (c *connFlags) connect(ctx context.Context, reconnect bool) (*counters.Client, error) {
	if c.timeout <= 0 {
		return nil, counters.Invalidf("--timeout %s: want a positive duration such as 5s", c.timeout)
	}
	nctx, err := natscontext.New(c.context, true,
		natscontext.WithServerURL(c.server),
		natscontext.WithCreds(c.creds),
		natscontext.WithNKey(c.nkey),
		natscontext.WithUser(c.user),
		natscontext.WithPassword(c.password),
		natscontext.WithToken(c.token),
		natscontext.WithCertificate(c.tlsCert),
		natscontext.WithKey(c.tlsKey),
		natscontext.WithCA(c.tlsCA),
		natscontext.WithJSDomain(c.jsDomain),
		natscontext.WithJSAPIPrefix(c.jsAPIPrefix),
	)
	if err != nil {
		name := c.context
		if name == "" {
			name = "selected"
		}
		return nil, counters.Invalidf("cannot load nats context %q: %v", name, err)
	}
	servers := defaultURL
	if c.server != "" || nctx.Name != "" {
		servers = nctx.ServerURL()
	}
	opts, err := nctx.NATSOptions(nats.Name("counter"), nats.Timeout(c.timeout))
	if err != nil {
		return nil, counters.Invalidf("cannot use connection settings: %v", err)
	}
	if reconnect {
		opts = append(opts, nats.MaxReconnects(-1), nats.RetryOnFailedConnect(false))
	} else {
		opts = append(opts, nats.NoReconnect())
	}
	nc, err := nats.Connect(servers, opts...)
	if err != nil {
		return nil, connectError(servers, err)
	}
	client, err := counters.New(nc, counters.Options{
		Domain:    nctx.JSDomain(),
		APIPrefix: nctx.JSAPIPrefix(),
		Timeout:   c.timeout,
	})
	if err != nil {
		nc.Close()
		return nil, err
	}
	return client, nil
}

func connectError(servers string, err error) error {
	where := redactURLs(servers)
	switch {
	case errors.Is(err, nats.ErrAuthorization), strings.Contains(strings.ToLower(err.Error()), "authorization"):
		return counters.Unavailablef("cannot connect to %s: authorization failed: check --creds, --nkey, --user/--password or --token", where)
	case errors.Is(err, nats.ErrNoServers):
		return counters.Unavailablef("cannot connect to %s: no server answered: start one locally with 'counter server', or point -s/--server or --context at yours", where)
	}
	return counters.Unavailablef("cannot connect to %s: %v: start one locally with 'counter server', or point -s/--server or --context at yours", where, redact(err.Error()))
}

// userInfo matches credentials embedded in URLs (nats://user:pass@host).
var userInfo = regexp.MustCompile(`([a-z]+://)[^@/\s]+@`)

// redact removes credentials from anything that may carry a URL.
func redact(s string) string { return userInfo.ReplaceAllString(s, "${1}***@") }

func redactURLs(servers string) string {
	parts := strings.Split(servers, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = url.User("***")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}
