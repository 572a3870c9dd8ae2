package cmd

import (
	"context"

	"github.com/choria-io/fisk"

	"github.com/jetcounter/counter/internal/connection"
	"github.com/jetcounter/counter/internal/counters"
)

// connFlags binds natscli's connection flags, with its names, variables
// and meanings, so that habits and `nats context` files carry over. What
// they mean is internal/connection's business.
type connFlags struct {
	opts connection.Options
	// secrets are the credentials met while connecting: printError
	// scrubs them from every message.
	secrets connection.Secrets
}

func addConnFlags(f *fisk.Application) *connFlags {
	c := &connFlags{}
	o := &c.opts
	f.Flag("server", "NATS server URLs, comma separated (default "+connection.DefaultURL+")").Short('s').Envar("NATS_URL").PlaceHolder("URL").StringVar(&o.Servers)
	f.Flag("context", "nats context to use: a name or a path to a context file (default: the selected one)").Envar("NATS_CONTEXT").PlaceHolder("NAME").StringVar(&o.Context)
	f.Flag("no-context", "Use no nats context, not even the selected one").UnNegatableBoolVar(&o.NoContext)
	f.Flag("creds", "User credentials file (holds the user JWT and seed; counter has no --jwt/--seed, which would put a secret on the command line)").Envar("NATS_CREDS").PlaceHolder("FILE").StringVar(&o.Creds)
	f.Flag("nkey", "User NKEY seed file").Envar("NATS_NKEY").PlaceHolder("FILE").StringVar(&o.NKey)
	f.Flag("user", "Username, or a token when no --password is given (as in natscli)").Envar("NATS_USER").PlaceHolder("USER").StringVar(&o.User)
	f.Flag("password", "Password").Envar("NATS_PASSWORD").PlaceHolder("PASSWORD").StringVar(&o.Password)
	f.Flag("token", "Authentication token").Envar("NATS_TOKEN").PlaceHolder("TOKEN").StringVar(&o.Token)
	f.Flag("tlscert", "TLS client certificate file").Envar("NATS_CERT").PlaceHolder("FILE").StringVar(&o.TLSCert)
	f.Flag("tlskey", "TLS client private key file").Envar("NATS_KEY").PlaceHolder("FILE").StringVar(&o.TLSKey)
	f.Flag("tlsca", "TLS certificate authority chain file").Envar("NATS_CA").PlaceHolder("FILE").StringVar(&o.TLSCA)
	f.Flag("tlsfirst", "Perform the TLS handshake before expecting the server greeting").UnNegatableBoolVar(&o.TLSFirst)
	f.Flag("timeout", "Time to wait for the server and for each request, e.g. 5s or 500ms").Envar("NATS_TIMEOUT").Default("5s").PlaceHolder("DURATION").StringVar(&o.Timeout)
	f.Flag("js-domain", "JetStream domain to use").PlaceHolder("DOMAIN").StringVar(&o.JSDomain)
	f.Flag("js-api-prefix", "JetStream API prefix to use (cross-account imports)").PlaceHolder("PREFIX").StringVar(&o.JSAPIPrefix)
	f.Flag("inbox-prefix", "Custom prefix for reply inboxes (accounts that restrict _INBOX)").PlaceHolder("PREFIX").StringVar(&o.InboxPrefix)
	f.Flag("connection-name", "Name of the connection as the server shows it").Default("counter").PlaceHolder("NAME").StringVar(&o.Name)
	return c
}

// connect dials with the flags laid over the selected context and returns
// a counters client; see connection.Dial.
func (c *connFlags) connect(ctx context.Context, reconnect bool) (*counters.Client, error) {
	return c.connectWith(ctx, c.opts, reconnect)
}

// connectWith is connect with other options (completions shorten the
// timeout).
func (c *connFlags) connectWith(ctx context.Context, opts connection.Options, reconnect bool) (*counters.Client, error) {
	conn, err := connection.Dial(ctx, opts, reconnect, &c.secrets)
	if err != nil {
		return nil, err
	}
	client, err := counters.New(conn.NC, counters.Options{Domain: conn.Domain, APIPrefix: conn.APIPrefix, Timeout: conn.Timeout})
	if err != nil {
		conn.NC.Close()
		return nil, err
	}
	return client, nil
}

// scrub removes every credential this run met from a message.
func (c *connFlags) scrub(s string) string { return c.secrets.Scrub(s) }

// redact removes URL user info from a message that may carry a URL.
func redact(s string) string { return connection.Redact(s) }
