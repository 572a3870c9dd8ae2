// Package testserver starts real, in-process NATS servers with JetStream for
// tests. Every server lives in t.TempDir() on random ports and is shut down
// via t.Cleanup.
package testserver

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/embedded"
)

// readyTimeout bounds every wait. Meta leader election alone takes 4-9s
// (raft election timeout), plus slack for -race on small machines.
const readyTimeout = 20 * time.Second

// Single starts a standalone JetStream server.
func Single(t testing.TB) *server.Server {
	t.Helper()
	return SingleWithDomain(t, "")
}

// SingleWithDomain starts a standalone JetStream server with the given
// JetStream domain ("" for none).
func SingleWithDomain(t testing.TB, domain string) *server.Server {
	t.Helper()
	return start(t, embedded.Options{Domain: domain})
}

// Cluster starts an n-node JetStream cluster and returns once the meta
// leader sees all n nodes, so R<=n streams can be placed right away.
func Cluster(t testing.TB, n int) []*server.Server {
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
	waitFor(t, "JetStream meta leader with all peers", func() error {
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
func WaitInterest(t testing.TB, servers []*server.Server, subjects ...string) {
	t.Helper()
	waitFor(t, "interest in "+strings.Join(subjects, ", ")+" on every server", func() error {
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
func HubAndLeaf(t testing.TB, hubDomain, leafDomain string) (hub, leaf *server.Server) {
	t.Helper()
	if hubDomain == "" || leafDomain == "" || hubDomain == leafDomain {
		// Both sit in the global account; distinct domains are what keep
		// their JetStream APIs apart across the leafnode connection.
		t.Fatalf("testserver.HubAndLeaf: need two distinct non-empty domains, got %q and %q", hubDomain, leafDomain)
	}
	hub = start(t, embedded.Options{ServerName: "hub", Domain: hubDomain, LeafNodePort: -1})

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
	leaf = start(t, embedded.Options{ServerName: "leaf", Domain: leafDomain, LeafRemotes: []string{remote}})

	waitFor(t, "leafnode connection", func() error {
		if h, l := hub.NumLeafNodes(), leaf.NumLeafNodes(); h < 1 || l < 1 {
			return fmt.Errorf("hub has %d leafnodes, leaf has %d", h, l)
		}
		return nil
	})

	// The leaf connection being up does not mean subscription interest for
	// $JS.<domain>.API.> has propagated yet, so poll the API itself.
	nc := Connect(t, hub)
	subj := "$JS." + leafDomain + ".API.INFO"
	waitFor(t, "leaf JetStream API reachable from hub", func() error {
		msg, err := nc.Request(subj, nil, time.Second)
		if err != nil {
			return err
		}
		var resp struct {
			Error *struct {
				Description string `json:"description"`
			} `json:"error"`
			Domain string `json:"domain"`
		}
		if err := json.Unmarshal(msg.Data, &resp); err != nil {
			return fmt.Errorf("decode %s: %w", msg.Data, err)
		}
		if resp.Error != nil {
			return fmt.Errorf("API error: %s", resp.Error.Description)
		}
		if resp.Domain != leafDomain {
			return fmt.Errorf("answered by domain %q", resp.Domain)
		}
		return nil
	})
	return hub, leaf
}

// URL returns the client URL of s.
func URL(s *server.Server) string {
	return s.ClientURL()
}

// Connect connects to s and closes the connection on cleanup.
func Connect(t testing.TB, s *server.Server) *nats.Conn {
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
func startCluster(t testing.TB, n int) ([]*server.Server, error) {
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
		s, err := startE(t, embedded.Options{
			ServerName: "n" + strconv.Itoa(i+1),
			Cluster:    &embedded.ClusterOptions{Name: "test", Port: p, Routes: routes},
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

func start(t testing.TB, opts embedded.Options) *server.Server {
	t.Helper()
	s, err := startE(t, opts)
	if err != nil {
		t.Fatalf("start nats server: %v", err)
	}
	return s
}

func startE(t testing.TB, opts embedded.Options) (*server.Server, error) {
	opts.Host = "127.0.0.1"
	opts.Port = -1
	// TempDir before Start so its removal (cleanups run LIFO) happens after
	// the server has shut down and released the store.
	opts.StoreDir = t.TempDir()
	s, err := embedded.Start(opts)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { shutdown(s) })
	return s, nil
}

func shutdown(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

// waitFor polls cond until it returns nil or readyTimeout passes.
func waitFor(t testing.TB, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", readyTimeout, what, err)
		}
		<-tick.C
	}
}
