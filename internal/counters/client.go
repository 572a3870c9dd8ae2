// Package counters is the kernel every verb and engine builds on: the
// Client, values (*big.Int, never int64 or float64), subject rules, the one
// publish-target check (PublishTarget) and the one rule for a stream that
// carries counter values (CarriesCounterValues), reads, incr, and discovery
// of the aggregation graph. It returns typed results and never prints;
// engines (bulk, reset, streams, history, watch, tiers) live in their own
// packages on top of it.
package counters

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jetcounter/counter/internal/errkind"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// MinAPILevel is the JetStream API level that introduced counters (2.12).
const MinAPILevel = 2

// Options select the JetStream domain or API prefix to talk to.
type Options struct {
	Domain    string
	APIPrefix string
	// Timeout bounds each request, and the silence tolerated mid-read.
	Timeout time.Duration
}

// Client is a JetStream client for counter streams.
type Client struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	prefix  string // "$JS.API" or the domain's / user's prefix, no trailing dot
	timeout time.Duration
	denials *denials
	// domain is the JetStream domain of a client made by InDomain for
	// another domain than the connection's own ("" otherwise): a request
	// nobody answers then means that domain is unreachable.
	domain string
}

// denials turns the server's asynchronous "Permissions Violation" into a
// prompt failure of the requests in flight: without it a denied publish
// only shows as a timeout, seconds later, with no reason.
type denials struct {
	mu       sync.Mutex
	inFlight map[*context.CancelFunc]struct{}
	last     error
	// published holds the subjects a publish was denied to (the server
	// drops such a message: it was not applied), up to maxDenied.
	published map[string]bool
	// leaderReads is set once leader reads ($JS.API.STREAM.MSG.GET) were
	// denied: a role allowed only direct gets then reads those.
	leaderReadsDenied atomic.Bool
}

func watchDenials(nc *nats.Conn) *denials {
	d := &denials{inFlight: map[*context.CancelFunc]struct{}{}, published: map[string]bool{}}
	prev := nc.ErrorHandler()
	nc.SetErrorHandler(func(conn *nats.Conn, sub *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			d.mu.Lock()
			d.last = err
			if subject, ok := deniedPublish(err.Error()); ok && len(d.published) < maxDenied {
				d.published[subject] = true
			}
			for cancel := range d.inFlight {
				(*cancel)()
			}
			d.mu.Unlock()
		}
		// A denied leader read is handled (see readOne): no noise for it.
		if prev != nil && !strings.Contains(err.Error(), ".STREAM.MSG.GET.") {
			prev(conn, sub, err)
		}
	})
	return d
}

func (d *denials) track(cancel context.CancelFunc) context.CancelFunc {
	d.mu.Lock()
	d.inFlight[&cancel] = struct{}{}
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		delete(d.inFlight, &cancel)
		d.mu.Unlock()
		cancel()
	}
}

// maxDenied bounds the denied subjects remembered.
const maxDenied = 4096

// deniedPublish finds the subject in the server's `Permissions Violation
// for Publish to "SUBJECT"` (nats-server writes it with %q).
func deniedPublish(msg string) (string, bool) {
	const marker = "Permissions Violation for Publish to "
	i := strings.Index(msg, marker)
	if i < 0 {
		return "", false
	}
	rest := msg[i+len(marker):]
	q, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return "", false
	}
	subject, err := strconv.Unquote(q)
	return subject, err == nil
}

// PublishDenied reports whether the server denied a publish to subject on
// this connection: such a message is dropped, never applied.
func (c *Client) PublishDenied(subject string) bool {
	c.denials.mu.Lock()
	defer c.denials.mu.Unlock()
	return c.denials.published[subject]
}

func (d *denials) err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// New wraps an established connection.
func New(nc *nats.Conn, opts Options) (*Client, error) {
	if opts.Domain != "" && opts.APIPrefix != "" {
		return nil, errkind.Invalidf("--js-domain and --js-api-prefix cannot be used together")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	var (
		js     jetstream.JetStream
		err    error
		prefix = "$JS.API"
	)
	switch {
	case opts.Domain != "":
		js, err = jetstream.NewWithDomain(nc, opts.Domain)
		prefix = "$JS." + opts.Domain + ".API"
	case opts.APIPrefix != "":
		js, err = jetstream.NewWithAPIPrefix(nc, opts.APIPrefix)
		prefix = strings.TrimSuffix(opts.APIPrefix, ".")
	default:
		js, err = jetstream.New(nc)
	}
	if err != nil {
		return nil, errkind.Invalidf("cannot use JetStream: %v", err)
	}
	return &Client{
		nc:      nc,
		js:      js,
		prefix:  prefix,
		timeout: opts.Timeout,
		denials: watchDenials(nc),
	}, nil
}

// Timeout bounds each request.
func (c *Client) Timeout() time.Duration { return c.timeout }

// Prefix is the JetStream API prefix requests go to ("$JS.API", a
// domain's, or the user's), without a trailing dot.
func (c *Client) Prefix() string { return c.prefix }

// Denied is the permission violation the server last reported, if any.
func (c *Client) Denied() error { return c.denials.err() }

// TrackDenials makes a permission violation cancel the work cancel ends;
// call the returned function instead of cancel.
func (c *Client) TrackDenials(cancel context.CancelFunc) context.CancelFunc {
	return c.denials.track(cancel)
}

// Conn returns the underlying connection.
func (c *Client) Conn() *nats.Conn { return c.nc }

// JetStream returns the JetStream context the client uses.
func (c *Client) JetStream() jetstream.JetStream { return c.js }

// inDomain returns a client over the same connection for a topology
// domain label: a JetStream domain name, or (for a source reached through
// an account import) the API prefix itself.
func (c *Client) InDomain(label string) (*Client, error) {
	if label == "" {
		return c, nil
	}
	var (
		js     jetstream.JetStream
		err    error
		prefix = "$JS." + label + ".API"
		domain string
	)
	if strings.Contains(label, ".") {
		prefix = strings.TrimSuffix(label, ".")
		js, err = jetstream.NewWithAPIPrefix(c.nc, label)
	} else {
		js, err = jetstream.NewWithDomain(c.nc, label)
		domain = label
	}
	if err != nil {
		return nil, errkind.Invalidf("cannot use JetStream at %q: %v", label, err)
	}
	return &Client{nc: c.nc, js: js, prefix: prefix, timeout: c.timeout, denials: c.denials, domain: domain}, nil
}

// requestContext bounds one request by the client timeout; a permission
// violation reported by the server cancels it at once.
func (c *Client) RequestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	return rctx, c.denials.track(cancel)
}

// APILevel returns the JetStream API level of the account's server, failing
// with errkind.ErrUnavailable when JetStream cannot be reached or is too old.
func (c *Client) APILevel(ctx context.Context) (int, error) {
	ctx, cancel := c.RequestContext(ctx)
	defer cancel()
	info, err := c.js.AccountInfo(ctx)
	if err != nil {
		return 0, c.Wrap(err, "JetStream account info")
	}
	if info.API.Level < MinAPILevel {
		return info.API.Level, errkind.Unavailablef("JetStream API level %d is too old: counters need nats-server 2.12 or newer (API level %d)", info.API.Level, MinAPILevel)
	}
	return info.API.Level, nil
}

// wrap turns transport and JetStream API errors into kinded errors whose text
// says what failed and what to do (errkind.NATS is the one table).
func (c *Client) Wrap(err error, what string) error {
	return errkind.NATS(err, what, errkind.Where{
		At: c.Where(), Timeout: c.timeout, Denied: c.denials.err(),
		Gone:   c.nc != nil && (c.nc.IsClosed() || c.nc.IsReconnecting()),
		Domain: c.domain,
	})
}

func (c *Client) Where() string {
	if c.prefix == "" || c.prefix == "$JS.API" {
		return ""
	}
	return " at " + c.prefix
}

// Stream looks a stream up (its info and a handle for purges).
func (c *Client) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	rctx, cancel := c.RequestContext(ctx)
	defer cancel()
	s, err := c.js.Stream(rctx, name)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, errkind.NotFoundf("stream %s not found%s", name, c.Where())
		}
		return nil, c.Wrap(err, "stream "+name)
	}
	return s, nil
}

// PollFirst and PollMax pace a wait for the server to catch up: the first
// look comes soon, later ones back off.
const (
	PollFirst = 10 * time.Millisecond
	PollMax   = 250 * time.Millisecond
)
