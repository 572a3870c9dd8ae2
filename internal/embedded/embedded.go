// Package embedded starts an in-process NATS server with JetStream enabled.
package embedded

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

const (
	defaultHost         = "127.0.0.1"
	defaultPort         = 4222
	defaultClusterPort  = 6222
	defaultReadyTimeout = 10 * time.Second
)

// Options configures an embedded server. Zero values select defaults.
type Options struct {
	Host         string // default "127.0.0.1"
	Port         int    // -1 = random; 0 means default 4222
	StoreDir     string // JetStream store dir (required)
	Domain       string // JetStream domain, optional
	ServerName   string // optional; required by JetStream when Cluster is set
	LeafNodePort int    // 0 = no leafnode listener, -1 random
	// LeafNoAdvertise keeps the leafnode listener's address out of what
	// leaf nodes learn (no_advertise): a leaf reconnects only through the
	// URL it was given.
	LeafNoAdvertise bool
	LeafRemotes     []string        // leafnode remote URLs (nats-leaf://host:port), optional
	Cluster         *ClusterOptions // optional
	Logger          bool            // log to stderr; otherwise logging is off
	NoJetStream     bool            // a core-NATS-only server (tests of what counter says then)
	ReadyTimeout    time.Duration   // how long to wait for the listeners; 0 = 10s
}

// ClusterOptions configures the route listener and the routes to other nodes.
type ClusterOptions struct {
	Name   string   // cluster name, required by JetStream clustering
	Host   string   // default: Options.Host
	Port   int      // -1 = random; 0 means default 6222
	Routes []string // nats-route://host:port URLs of other nodes
}

// Start builds, starts and waits for a JetStream-enabled server. On error
// nothing is left running.
func Start(opts Options) (*server.Server, error) {
	sopts, err := opts.serverOptions()
	if err != nil {
		return nil, err
	}
	release := func() {}
	if !opts.NoJetStream {
		if release, err = lockStore(opts.StoreDir); err != nil {
			return nil, err
		}
	}
	s, err := server.NewServer(sopts)
	if err != nil {
		release()
		return nil, fmt.Errorf("invalid server options: %w", err)
	}
	started := false
	defer func() {
		if started {
			go func() { s.WaitForShutdown(); release() }()
		} else {
			release()
		}
	}()

	// The server reports startup failures (port in use, bad store dir) only
	// through Logger.Fatalf. The stock logger calls os.Exit there and with
	// NoLog they vanish, so always interpose a logger that captures them.
	var inner server.Logger
	if opts.Logger {
		s.ConfigureLogger()
		inner = s.Logger()
	}
	fc := &fatalCatcher{inner: inner, srv: s, host: sopts.Host}
	s.SetLoggerV2(fc, false, false, false)

	startDone := make(chan struct{})
	go func() {
		defer close(startDone)
		s.Start()
	}()

	timeout := opts.ReadyTimeout
	if timeout <= 0 {
		timeout = defaultReadyTimeout
	}
	deadline := time.Now().Add(timeout)
	for {
		if err := fc.failure(); err != nil {
			// Every Fatalf site in Start returns right after logging, so
			// this is short; it keeps Start from racing with Shutdown.
			<-startDone
			stop(s)
			return nil, err
		}
		// Short slices so a captured fatal error is reported promptly
		// instead of after the full timeout.
		if s.ReadyForConnections(50 * time.Millisecond) {
			if err := fc.markStarted(); err != nil {
				<-startDone
				stop(s)
				return nil, err
			}
			started = true
			return s, nil
		}
		if time.Now().After(deadline) {
			stop(s)
			<-startDone
			return nil, fmt.Errorf("nats server not ready for connections after %s", timeout)
		}
	}
}

func stop(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

func (o Options) serverOptions() (*server.Options, error) {
	if o.StoreDir == "" && !o.NoJetStream {
		return nil, errors.New("embedded nats server: JetStream store directory is required")
	}
	host := o.Host
	if host == "" {
		host = defaultHost
	}
	port := o.Port
	if port == 0 {
		port = defaultPort
	}
	so := &server.Options{
		Host:            host,
		Port:            port,
		ServerName:      o.ServerName,
		JetStream:       !o.NoJetStream,
		JetStreamDomain: o.Domain,
		StoreDir:        o.StoreDir,
		NoSigs:          true,
		NoLog:           !o.Logger,
		Logtime:         true,
	}
	if o.LeafNodePort != 0 {
		so.LeafNode.Host = host
		so.LeafNode.Port = o.LeafNodePort
		so.LeafNode.NoAdvertise = o.LeafNoAdvertise
	}
	for _, r := range o.LeafRemotes {
		u, err := parseURL(r, "leafnode remote")
		if err != nil {
			return nil, err
		}
		so.LeafNode.Remotes = append(so.LeafNode.Remotes, &server.RemoteLeafOpts{URLs: []*url.URL{u}})
	}
	if c := o.Cluster; c != nil {
		so.Cluster.Name = c.Name
		so.Cluster.Host = c.Host
		if so.Cluster.Host == "" {
			so.Cluster.Host = host
		}
		so.Cluster.Port = c.Port
		if so.Cluster.Port == 0 {
			so.Cluster.Port = defaultClusterPort
		}
		for _, r := range c.Routes {
			u, err := parseURL(r, "cluster route")
			if err != nil {
				return nil, err
			}
			so.Routes = append(so.Routes, u)
		}
	}
	return so, nil
}

func parseURL(raw, what string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("invalid %s URL %q: %w", what, raw, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("invalid %s URL %q: missing host:port", what, raw)
	}
	return u, nil
}

// fatalCatcher forwards log calls to inner (if any) and turns Fatalf into a
// startup error, or into a logged error plus shutdown once running.
type fatalCatcher struct {
	inner server.Logger
	srv   *server.Server
	host  string

	mu      sync.Mutex
	started bool
	err     error
}

func (f *fatalCatcher) failure() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// markStarted hands over from startup to running mode atomically, so a
// fatal error racing with readiness is not lost.
func (f *fatalCatcher) markStarted() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = true
	return f.err
}

func (f *fatalCatcher) Fatalf(format string, v ...any) {
	err := fatalError(f.host, format, v)
	f.mu.Lock()
	started := f.started
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
	if f.inner != nil {
		f.inner.Errorf("%v", err)
	}
	if started {
		// Fatal means the server cannot go on; shut down instead of exiting
		// the process so the owner sees it via WaitForShutdown. Async because
		// the caller may be a server goroutine that Shutdown waits for.
		go f.srv.Shutdown()
	}
}

func (f *fatalCatcher) Noticef(format string, v ...any) {
	if f.inner != nil {
		f.inner.Noticef(format, v...)
	}
}

func (f *fatalCatcher) Warnf(format string, v ...any) {
	if f.inner != nil {
		f.inner.Warnf(format, v...)
	}
}

func (f *fatalCatcher) Errorf(format string, v ...any) {
	if f.inner != nil {
		f.inner.Errorf(format, v...)
	}
}

func (f *fatalCatcher) Debugf(format string, v ...any) {
	if f.inner != nil {
		f.inner.Debugf(format, v...)
	}
}

func (f *fatalCatcher) Tracef(format string, v ...any) {
	if f.inner != nil {
		f.inner.Tracef(format, v...)
	}
}

// fatalError turns the server's fatal log line into a one-line error,
// special-casing listen failures: "cannot listen on 127.0.0.1:4222: address
// already in use".
func fatalError(host, format string, args []any) error {
	var cause error
	for _, a := range args {
		if e, ok := a.(error); ok {
			cause = e
			break
		}
	}
	var opErr *net.OpError
	if cause != nil && errors.As(cause, &opErr) && opErr.Op == "listen" {
		addr := ""
		if opErr.Addr != nil {
			addr = opErr.Addr.String()
		} else if len(args) > 0 {
			// Leafnode/route messages pass only the port number.
			addr = net.JoinHostPort(host, fmt.Sprint(args[0]))
		}
		reason := opErr.Err.Error()
		var sysErr *os.SyscallError
		if errors.As(opErr.Err, &sysErr) {
			reason = sysErr.Err.Error()
		}
		return fmt.Errorf("cannot listen on %s%s: %s", addr, listenerKind(format), reason)
	}
	return fmt.Errorf("nats server: %s", fmt.Sprintf(format, args...))
}

func listenerKind(format string) string {
	f := strings.ToLower(format)
	for _, k := range []struct{ key, kind string }{
		{"leafnode", "leafnode"},
		{"router", "cluster"},
		{"gateway", "gateway"},
		{"websocket", "websocket"},
		{"mqtt", "mqtt"},
		{"monitor", "monitoring"},
	} {
		if strings.Contains(f, k.key) {
			return " (" + k.kind + ")"
		}
	}
	return ""
}
