package testserver

import (
	"net"
	"strconv"

	"github.com/nats-io/nats-server/v2/server"
)

// Restartable is a server that can be stopped and started again as the
// same server to its clients: same client port, same store.
type Restartable struct {
	t    TB
	opts Options
	s    *server.Server
}

// StartRestartable starts a server as o says (o.Port and o.StoreDir are
// chosen if not set) that Stop and Start can take down and bring back.
// It is stopped when the test ends.
func StartRestartable(t TB, o Options) *Restartable {
	t.Helper()
	if o.StoreDir == "" && !o.NoJetStream {
		o.StoreDir = t.TempDir()
	}
	r := &Restartable{t: t, opts: o}
	r.Start()
	// Later starts take the port this one was given.
	r.opts.Port = r.s.Addr().(*net.TCPAddr).Port
	t.Cleanup(r.Stop)
	return r
}

// Server is the running server; nil while stopped.
func (r *Restartable) Server() *server.Server { return r.s }

// URL is the server's client URL, the same across restarts.
func (r *Restartable) URL() string {
	return "nats://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(r.opts.Port))
}

// Start starts the server again after Stop; it fails the test if the
// server is running.
func (r *Restartable) Start() {
	r.t.Helper()
	if r.s != nil {
		r.t.Fatalf("testserver: Start of a running server")
	}
	s, err := launch(r.t, r.opts)
	if err != nil {
		r.t.Fatalf("start nats server on port %d: %v", r.opts.Port, err)
	}
	r.s = s
}

// Stop shuts the server down and waits until it has; stopping a stopped
// server does nothing.
func (r *Restartable) Stop() {
	if r.s != nil {
		shutdown(r.s)
		r.s = nil
	}
}
