package testserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Hub starts a JetStream server with the given domain and a leafnode
// listener that does not advertise itself (no_advertise): a leaf reaches it
// only through the URL it was given, so a Link can partition them.
func Hub(t testing.TB, domain string) *server.Server {
	t.Helper()
	return Start(t, Options{Name: "hub", Domain: domain, leafNodePort: -1, leafNoAdvertise: true})
}

// Link is the leafnode connection of a leaf to its hub, through a TCP proxy
// a test can cut (a partition: the leaf keeps running and retrying) and
// heal.
type Link struct {
	t      testing.TB
	hub    *server.Server
	domain string
	target string
	ln     net.Listener

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

// Leaf starts a leaf node with its own JetStream domain, connected to hub
// through a Link, and returns once a client of the hub reaches the leaf's
// JetStream API ($JS.<domain>.API).
func Leaf(t testing.TB, hub *server.Server, name, domain string) (*server.Server, *Link) {
	t.Helper()
	vz, err := hub.Varz(nil)
	if err != nil {
		t.Fatalf("hub varz: %v", err)
	}
	if vz.LeafNode.Port <= 0 {
		t.Fatalf("hub has no leafnode listener")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &Link{t: t, hub: hub, domain: domain, ln: ln, conns: map[net.Conn]bool{},
		target: net.JoinHostPort("127.0.0.1", strconv.Itoa(vz.LeafNode.Port))}
	go l.accept()
	leaf := Start(t, Options{Name: name, Domain: domain, leafRemotes: []string{"nats-leaf://" + ln.Addr().String()}})
	// The proxy goes after the leaf (cleanups run last first): it must not
	// hold the leaf's shutdown up.
	t.Cleanup(func() { ln.Close(); l.closeAll() })
	waitAPI(t, hub, domain, true)
	return leaf, l
}

// Cut closes the link and refuses the leaf's reconnects until Heal. It
// returns once the hub gets no answer from the leaf's JetStream domain.
func (l *Link) Cut() {
	l.t.Helper()
	l.mu.Lock()
	l.cut = true
	l.mu.Unlock()
	l.closeAll()
	waitAPI(l.t, l.hub, l.domain, false)
}

// Heal lets the leaf reconnect, and returns once the hub reaches the leaf's
// JetStream domain again.
func (l *Link) Heal() {
	l.t.Helper()
	l.mu.Lock()
	l.cut = false
	l.mu.Unlock()
	waitAPI(l.t, l.hub, l.domain, true)
}

func (l *Link) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.Close()
		delete(l.conns, c)
	}
}

func (l *Link) accept() {
	for {
		leaf, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		if l.cut {
			l.mu.Unlock()
			leaf.Close()
			continue
		}
		l.mu.Unlock()
		hub, err := net.Dial("tcp", l.target)
		if err != nil {
			leaf.Close()
			continue
		}
		l.mu.Lock()
		if l.cut {
			l.mu.Unlock()
			leaf.Close()
			hub.Close()
			continue
		}
		l.conns[leaf], l.conns[hub] = true, true
		l.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		go pipe(leaf, hub)
		go pipe(hub, leaf)
	}
}

// waitAPI polls $JS.<domain>.API.INFO through hub until it answers (up) or
// nobody does (down).
func waitAPI(t TB, hub *server.Server, domain string, up bool) {
	t.Helper()
	nc, err := nats.Connect(URL(hub))
	if err != nil {
		t.Fatalf("connect to hub: %v", err)
	}
	defer nc.Close()
	subj := "$JS." + domain + ".API.INFO"
	what := "JetStream domain " + domain + " reachable from the hub"
	if !up {
		what = "JetStream domain " + domain + " cut off from the hub"
	}
	Eventually(t, readyTimeout, what, func() error {
		msg, err := nc.Request(subj, nil, 500*time.Millisecond)
		if !up {
			if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) {
				return nil
			}
			return fmt.Errorf("still answers (%v)", err)
		}
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
		if resp.Domain != domain {
			return fmt.Errorf("answered by domain %q", resp.Domain)
		}
		return nil
	})
}
