package embedded

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

func startT(t *testing.T, opts Options) *server.Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { stop(s) })
	return s
}

func jsInfo(t *testing.T, url, subject string) map[string]any {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer nc.Close()
	msg, err := nc.Request(subject, nil, 5*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	var resp map[string]any
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		t.Fatalf("decode %q: %v", msg.Data, err)
	}
	if e, ok := resp["error"]; ok {
		t.Fatalf("%s returned error: %v", subject, e)
	}
	return resp
}

func TestStartJetStreamInfo(t *testing.T) {
	s := startT(t, Options{Port: -1, StoreDir: t.TempDir(), Domain: "edge", ServerName: "solo"})

	if !strings.HasPrefix(s.ClientURL(), "nats://127.0.0.1:") {
		t.Fatalf("expected default host 127.0.0.1, got %s", s.ClientURL())
	}
	resp := jsInfo(t, s.ClientURL(), "$JS.API.INFO")
	api, ok := resp["api"].(map[string]any)
	if !ok {
		t.Fatalf("no api object in %v", resp)
	}
	if level, _ := api["level"].(float64); level < 2 {
		t.Fatalf("api level = %v, want >= 2", api["level"])
	}
	if resp["domain"] != "edge" {
		t.Fatalf("domain = %v, want edge", resp["domain"])
	}
	if s.Name() != "solo" {
		t.Fatalf("server name = %q", s.Name())
	}
}

func TestStartPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	begin := time.Now()
	s, err := Start(Options{Port: port, StoreDir: t.TempDir()})
	if err == nil {
		stop(s)
		t.Fatal("expected an error for a port in use")
	}
	want := "cannot listen on 127.0.0.1:" + strconv.Itoa(port) + ": address already in use"
	if err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
	// The failure must be reported as it happens, not after the ready timeout.
	if d := time.Since(begin); d > 5*time.Second {
		t.Fatalf("took %s to report the failure", d)
	}
}

func TestStartSecondaryPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	addr := "127.0.0.1:" + strconv.Itoa(port)

	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"leafnode", Options{LeafNodePort: port}, "cannot listen on " + addr + " (leafnode): address already in use"},
		{"cluster", Options{ServerName: "a", Cluster: &ClusterOptions{Name: "c", Port: port, Routes: []string{"nats-route://" + addr}}},
			"cannot listen on " + addr + " (cluster): address already in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Port = -1
			tc.opts.StoreDir = t.TempDir()
			s, err := Start(tc.opts)
			if err == nil {
				stop(s)
				t.Fatal("expected an error for a port in use")
			}
			if err.Error() != tc.want {
				t.Fatalf("error = %q, want %q", err, tc.want)
			}
		})
	}
}

func TestStartWithLogger(t *testing.T) {
	// Only checks that the stderr logger path starts and stops cleanly.
	s := startT(t, Options{Port: -1, StoreDir: t.TempDir(), Logger: true})
	jsInfo(t, s.ClientURL(), "$JS.API.INFO")
}

func TestStartValidation(t *testing.T) {
	if _, err := Start(Options{Port: -1}); err == nil || !strings.Contains(err.Error(), "store directory") {
		t.Fatalf("missing StoreDir: err = %v", err)
	}
	_, err := Start(Options{Port: -1, StoreDir: t.TempDir(), LeafRemotes: []string{"::bad"}})
	if err == nil || !strings.Contains(err.Error(), "leafnode remote") {
		t.Fatalf("bad remote: err = %v", err)
	}
	// JetStream clustering needs a server name; NewServer's message is kept.
	_, err = Start(Options{Port: -1, StoreDir: t.TempDir(), Cluster: &ClusterOptions{Name: "c", Port: -1}})
	if err == nil || !strings.Contains(err.Error(), "server_name") {
		t.Fatalf("cluster without name: err = %v", err)
	}
}

func TestStartLeafRemote(t *testing.T) {
	hub := startT(t, Options{Port: -1, StoreDir: t.TempDir(), Domain: "hub", LeafNodePort: -1})
	vz, err := hub.Varz(nil)
	if err != nil {
		t.Fatal(err)
	}
	remote := "nats-leaf://127.0.0.1:" + strconv.Itoa(vz.LeafNode.Port)
	leaf := startT(t, Options{Port: -1, StoreDir: t.TempDir(), Domain: "leaf", LeafRemotes: []string{remote}})

	deadline := time.Now().Add(10 * time.Second)
	for hub.NumLeafNodes() < 1 || leaf.NumLeafNodes() < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("leafnode not connected: hub=%d leaf=%d", hub.NumLeafNodes(), leaf.NumLeafNodes())
		}
		time.Sleep(20 * time.Millisecond) // poll interval, bounded by deadline
	}
}

func TestSecondServerOnSameStoreIsRefused(t *testing.T) {
	dir := t.TempDir()
	first := startT(t, Options{Port: -1, StoreDir: dir})
	_, err := Start(Options{Port: -1, StoreDir: dir})
	if err == nil || !strings.Contains(err.Error(), "in use by another server") {
		t.Fatalf("second server on %s: err = %v, want 'in use by another server'", dir, err)
	}
	// The lock goes with the first server: a restart on its store works.
	stop(first)
	second, err := Start(Options{Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	stop(second)
}
