// Package testserver is the one way tests start real, in-process NATS
// servers: standalone (Single, Start), clustered (Cluster), hub and leaf
// (HubAndLeaf) and restartable (StartRestartable). Every server listens on
// 127.0.0.1 on random ports, keeps its store in a temporary directory and is
// shut down when the test ends. Eventually is the one bounded poll for what
// becomes true a moment later.
package testserver

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/embedded"
)

// readyTimeout bounds every wait for a server. Meta leader election alone
// takes 4-9s (raft election timeout), plus slack for -race on small
// machines.
const readyTimeout = 20 * time.Second

// TB is what starting a server and waiting need of a test. testing.TB has
// it; a testscript script gets it through a small adapter.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	Name() string
}

// Options says what server Start starts; the zero value is a standalone
// JetStream server like `counter server` runs.
type Options struct {
	Name        string // server name ("" for a generated one)
	Domain      string // JetStream domain ("" for none)
	NoJetStream bool   // core NATS only
	// StoreDir is the JetStream store; "" is a fresh temporary directory.
	StoreDir string
	// Port is the client port; 0 is a random free one.
	Port int
	// Config is nats-server configuration text (accounts, their limits,
	// no_auth_user) that the server's options start from; listen address,
	// store and JetStream are still set as above.
	Config string
	// Configure edits the server's options last, for what Options has no
	// field for: users, authorization, TLS.
	Configure func(*server.Options)

	leafNodePort    int
	leafNoAdvertise bool
	leafRemotes     []string
	cluster         *embedded.ClusterOptions
}

// Start starts a server as o says and returns once it accepts clients.
func Start(t TB, o Options) *server.Server {
	t.Helper()
	s, err := startE(t, o)
	if err != nil {
		t.Fatalf("start nats server: %v", err)
	}
	return s
}

// Single starts a standalone JetStream server.
func Single(t TB) *server.Server {
	t.Helper()
	return Start(t, Options{})
}

// SingleWithDomain starts a standalone JetStream server with the given
// JetStream domain ("" for none).
func SingleWithDomain(t TB, domain string) *server.Server {
	t.Helper()
	return Start(t, Options{Domain: domain})
}

// Cluster starts an n-node JetStream cluster and returns once the meta
// leader sees all n nodes, so R<=n streams can be placed right away.
func Cluster(t TB, n int) []*server.Server {
	t.Helper()
	if n < 2 {
		t.Fatalf("testserver.Cluster: need at least 2 nodes, got %d", n)
	}
	var servers []*server.Server
	for attempt := 1; ; attempt++ {
		var err error
		servers, err = startCluster(t, n)
		if err == nil {
			break
		}
		// A pre-picked route port can be taken by someone else between
		// picking and binding; that is worth another try, nothing else is.
		if attempt == 3 || !strings.Contains(err.Error(), "cannot listen") {
			t.Fatalf("start %d-node cluster: %v", n, err)
		}
		t.Logf("retrying cluster start: %v", err)
	}

	// Bootstrapping may briefly elect a leader before every peer has
	// reported in; wait until it counts all n as online JetStream peers so
	// R<=n placement cannot fail with "insufficient resources".
	Eventually(t, readyTimeout, "JetStream meta leader with all peers", func() error {
		var leader *server.Server
		for _, s := range servers {
			if s.JetStreamIsLeader() {
				leader = s
			}
			if !s.JetStreamIsCurrent() {
				return fmt.Errorf("%s not current with meta leader", s.Name())
			}
		}
		if leader == nil {
			return fmt.Errorf("no meta leader")
		}
		if peers := leader.JetStreamClusterPeers(); len(peers) != n {
			return fmt.Errorf("leader %s sees peers %v", leader.Name(), peers)
		}
		return nil
	})
	return servers
}

// WaitInterest returns once every server has interest in each subject
// (the global account), through a local subscription or a route.
//
// A clustered stream's create response is sent in the system account,
// which routes over another connection than the stream leader's
// subscription to its subjects (global account): the response can arrive
// first, and a publish made right after it, on another node, then gets "no
// responders". Call this after creating a replicated stream and before
// publishing to it through another node.
func WaitInterest(t TB, servers []*server.Server, subjects ...string) {
	t.Helper()
	Eventually(t, readyTimeout, "interest in "+strings.Join(subjects, ", ")+" on every server", func() error {
		for _, s := range servers {
			acc := s.GlobalAccount()
			for _, subj := range subjects {
				if !acc.SubscriptionInterest(subj) {
					return fmt.Errorf("%s has no interest in %s", s.Name(), subj)
				}
			}
		}
		return nil
	})
}

// HubAndLeaf starts a hub with JetStream domain hubDomain and a leafnode
// listener, and a leaf with JetStream domain leafDomain connected to it. It
// returns once a hub client can reach the leaf's JetStream API through
// $JS.<leafDomain>.API.
func HubAndLeaf(t TB, hubDomain, leafDomain string) (hub, leaf *server.Server) {
	t.Helper()
	if hubDomain == "" || leafDomain == "" || hubDomain == leafDomain {
		// Both sit in the global account; distinct domains are what keep
		// their JetStream APIs apart across the leafnode connection.
		t.Fatalf("testserver.HubAndLeaf: need two distinct non-empty domains, got %q and %q", hubDomain, leafDomain)
	}
	hub = Start(t, Options{Name: "hub", Domain: hubDomain, leafNodePort: -1})

	// There is no exported leafnode address getter; Varz reports the
	// resolved random port.
	vz, err := hub.Varz(nil)
	if err != nil {
		t.Fatalf("hub varz: %v", err)
	}
	if vz.LeafNode.Port <= 0 {
		t.Fatalf("hub leafnode port not resolved: %d", vz.LeafNode.Port)
	}
	remote := "nats-leaf://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(vz.LeafNode.Port))
	leaf = Start(t, Options{Name: "leaf", Domain: leafDomain, leafRemotes: []string{remote}})

	Eventually(t, readyTimeout, "leafnode connection", func() error {
		if h, l := hub.NumLeafNodes(), leaf.NumLeafNodes(); h < 1 || l < 1 {
			return fmt.Errorf("hub has %d leafnodes, leaf has %d", h, l)
		}
		return nil
	})

	// The leaf connection being up does not mean subscription interest for
	// $JS.<domain>.API.> has propagated yet, so poll the API itself.
	waitAPI(t, hub, leafDomain, true)
	return hub, leaf
}

// URL returns the client URL of s.
func URL(s *server.Server) string {
	return s.ClientURL()
}

// Connect connects to s and closes the connection on cleanup.
func Connect(t TB, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(URL(s), nats.Name(t.Name()))
	if err != nil {
		t.Fatalf("connect to %s: %v", URL(s), err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// startCluster starts n nodes that each have a route to every node. Every
// node needs at least one configured route (JetStream refuses to cluster
// otherwise) and the meta group sizes itself from the route count, so the
// route ports are picked up front rather than using random ports.
func startCluster(t TB, n int) ([]*server.Server, error) {
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	routes := make([]string, n)
	for i, p := range ports {
		routes[i] = "nats-route://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	}
	servers := make([]*server.Server, 0, n)
	for i, p := range ports {
		s, err := startE(t, Options{
			Name:    "n" + strconv.Itoa(i+1),
			cluster: &embedded.ClusterOptions{Name: "test", Port: p, Routes: routes},
		})
		if err != nil {
			for _, s := range servers {
				shutdown(s)
			}
			return nil, err
		}
		servers = append(servers, s)
	}
	return servers, nil
}

// freePorts returns n distinct ports that were free a moment ago; all
// listeners are held until the end so the kernel cannot repeat a port.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startE starts the server o describes and shuts it down on cleanup.
func startE(t TB, o Options) (*server.Server, error) {
	t.Helper()
	s, err := launch(t, o)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { shutdown(s) })
	return s, nil
}

// launch starts the server o describes; stopping it is the caller's. A
// server with only what counter's own `counter server` has is started the
// same way, through the embedded package; Config and Configure need
// nats-server's own options.
func launch(t TB, o Options) (*server.Server, error) {
	if o.StoreDir == "" && !o.NoJetStream {
		// TempDir before Start so its removal (cleanups run LIFO)
		// happens after the server has shut down and released the store.
		o.StoreDir = t.TempDir()
	}
	if o.Port == 0 {
		o.Port = -1
	}
	if o.Config == "" && o.Configure == nil {
		return embedded.Start(embedded.Options{
			Host: "127.0.0.1", Port: o.Port, StoreDir: o.StoreDir, Domain: o.Domain, ServerName: o.Name,
			NoJetStream: o.NoJetStream, LeafNodePort: o.leafNodePort, LeafNoAdvertise: o.leafNoAdvertise, LeafRemotes: o.leafRemotes, Cluster: o.cluster,
			ReadyTimeout: readyTimeout,
		})
	}
	return startNATS(t, o)
}

// startNATS starts a server from nats-server's own options: o.Config, the
// fields of o, then o.Configure.
func startNATS(t TB, o Options) (*server.Server, error) {
	if o.leafNodePort != 0 || o.leafRemotes != nil || o.cluster != nil {
		return nil, fmt.Errorf("testserver: leafnodes and clusters take no Config or Configure")
	}
	opts := &server.Options{}
	if o.Config != "" {
		conf := filepath.Join(t.TempDir(), "server.conf")
		if err := os.WriteFile(conf, []byte(o.Config), 0o600); err != nil {
			return nil, err
		}
		var err error
		if opts, err = server.ProcessConfigFile(conf); err != nil {
			return nil, fmt.Errorf("server configuration: %w", err)
		}
	}
	opts.Host, opts.Port = "127.0.0.1", o.Port
	opts.ServerName = o.Name
	opts.JetStream, opts.JetStreamDomain, opts.StoreDir = !o.NoJetStream, o.Domain, o.StoreDir
	opts.NoSigs, opts.NoLog = true, true
	if o.Configure != nil {
		o.Configure(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("invalid server options: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(readyTimeout) {
		shutdown(s)
		return nil, fmt.Errorf("nats server not ready for connections after %s", readyTimeout)
	}
	return s, nil
}

func shutdown(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}
