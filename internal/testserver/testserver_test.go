package testserver

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

type apiResponse struct {
	Error *struct {
		Code        int    `json:"code"`
		Description string `json:"description"`
	} `json:"error"`
	Domain string `json:"domain"`
	API    *struct {
		Level int `json:"level"`
	} `json:"api"`
	Config *struct {
		Name     string `json:"name"`
		Replicas int    `json:"num_replicas"`
	} `json:"config"`
	Cluster *struct {
		Leader   string `json:"leader"`
		Replicas []struct {
			Name string `json:"name"`
		} `json:"replicas"`
	} `json:"cluster"`
}

func request(t *testing.T, nc *nats.Conn, subj, body string) apiResponse {
	t.Helper()
	// Generous timeout: R3 creation waits on a raft group forming.
	msg, err := nc.Request(subj, []byte(body), 10*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subj, err)
	}
	var r apiResponse
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		t.Fatalf("decode %s response %q: %v", subj, msg.Data, err)
	}
	if r.Error != nil {
		t.Fatalf("%s: API error %d: %s", subj, r.Error.Code, r.Error.Description)
	}
	return r
}

func TestSingle(t *testing.T) {
	s := Single(t)
	r := request(t, Connect(t, s), "$JS.API.INFO", "")
	if r.API == nil || r.API.Level < 2 {
		t.Fatalf("unexpected API info: %+v", r.API)
	}
}

func TestSingleWithDomain(t *testing.T) {
	s := SingleWithDomain(t, "edge")
	nc := Connect(t, s)
	// A domain-scoped server also answers on its $JS.<domain>.API prefix.
	for _, subj := range []string{"$JS.API.INFO", "$JS.edge.API.INFO"} {
		if r := request(t, nc, subj, ""); r.Domain != "edge" {
			t.Fatalf("%s: domain = %q, want edge", subj, r.Domain)
		}
	}
}

func TestCluster(t *testing.T) {
	begin := time.Now()
	servers := Cluster(t, 3)
	t.Logf("cluster ready in %s", time.Since(begin))
	if len(servers) != 3 {
		t.Fatalf("got %d servers", len(servers))
	}

	// Talk to a node that is not necessarily the meta leader.
	nc := Connect(t, servers[2])
	r := request(t, nc, "$JS.API.STREAM.CREATE.X",
		`{"name":"X","subjects":["x"],"num_replicas":3,"storage":"memory"}`)
	if r.Config == nil || r.Config.Name != "X" || r.Config.Replicas != 3 {
		t.Fatalf("unexpected stream config: %+v", r.Config)
	}
	// The create response can overtake the leader's interest in x on the
	// way to servers[2] (see WaitInterest): without this wait the publish
	// below failed now and then with "no responders" after 0.3 s.
	WaitInterest(t, servers, "x")
	if _, err := nc.Request("x", []byte("hello"), 5*time.Second); err != nil {
		t.Fatalf("publish to R3 stream: %v", err)
	}
}

func TestHubAndLeaf(t *testing.T) {
	hub, leaf := HubAndLeaf(t, "hub", "leaf")
	if hub.NumLeafNodes() < 1 || leaf.NumLeafNodes() < 1 {
		t.Fatal("leafnode connection not up")
	}

	nc := Connect(t, hub)
	created := request(t, nc, "$JS.leaf.API.STREAM.CREATE.L",
		`{"name":"L","subjects":["l"],"storage":"file"}`)
	if created.Config == nil || created.Config.Name != "L" {
		t.Fatalf("unexpected create response: %+v", created.Config)
	}
	info := request(t, nc, "$JS.leaf.API.STREAM.INFO.L", "")
	if info.Config == nil || info.Config.Name != "L" {
		t.Fatalf("unexpected info response: %+v", info.Config)
	}

	// The stream must live in the leaf's domain, not the hub's.
	lnc := Connect(t, leaf)
	request(t, lnc, "$JS.API.STREAM.INFO.L", "")
	msg, err := nc.Request("$JS.hub.API.STREAM.INFO.L", nil, 5*time.Second)
	if err != nil {
		t.Fatalf("hub stream info: %v", err)
	}
	var hr apiResponse
	if err := json.Unmarshal(msg.Data, &hr); err != nil {
		t.Fatal(err)
	}
	if hr.Error == nil || hr.Error.Code != 404 {
		t.Fatalf("expected stream L to be absent from hub domain, got %s", msg.Data)
	}
}

func TestURL(t *testing.T) {
	s := Single(t)
	if URL(s) != s.ClientURL() {
		t.Fatalf("URL = %s, ClientURL = %s", URL(s), s.ClientURL())
	}
}

func TestStartNoJetStream(t *testing.T) {
	s := Start(t, Options{NoJetStream: true})
	nc := Connect(t, s)
	if _, err := nc.Request("$JS.API.INFO", nil, time.Second); err == nil {
		t.Fatal("a server without JetStream answered the JetStream API")
	}
}

func TestStartConfigure(t *testing.T) {
	s := Start(t, Options{Configure: func(o *server.Options) {
		o.Users = []*server.User{{Username: "alice", Password: "pw"}}
	}})
	if nc, err := nats.Connect(URL(s)); err == nil {
		nc.Close()
		t.Fatal("connected without credentials")
	}
	nc, err := nats.Connect(URL(s), nats.UserInfo("alice", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	request(t, nc, "$JS.API.INFO", "")
}

func TestStartConfig(t *testing.T) {
	s := Start(t, Options{Config: `accounts { A: { jetstream: { max_streams: 1 }, users: [{user: a, password: a}] } }
no_auth_user: a
`})
	nc := Connect(t, s)
	request(t, nc, "$JS.API.STREAM.CREATE.S1", `{"name":"S1","subjects":["s1"],"storage":"memory"}`)
	msg, err := nc.Request("$JS.API.STREAM.CREATE.S2", []byte(`{"name":"S2","subjects":["s2"],"storage":"memory"}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r apiResponse
	if err := json.Unmarshal(msg.Data, &r); err != nil || r.Error == nil {
		t.Fatalf("a second stream in an account limited to one: %s", msg.Data)
	}
}

func TestRestartable(t *testing.T) {
	r := StartRestartable(t, Options{})
	url := r.URL()
	if url != URL(r.Server()) {
		t.Fatalf("URL %s, server's %s", url, URL(r.Server()))
	}
	request(t, Connect(t, r.Server()), "$JS.API.STREAM.CREATE.K", `{"name":"K","subjects":["k"],"storage":"file"}`)
	r.Stop()
	if r.Server() != nil {
		t.Fatal("a stopped server is still there")
	}
	r.Start()
	if URL(r.Server()) != url {
		t.Fatalf("restarted at %s, was %s", URL(r.Server()), url)
	}
	// Same store: the stream is still there.
	if info := request(t, Connect(t, r.Server()), "$JS.API.STREAM.INFO.K", ""); info.Config == nil || info.Config.Name != "K" {
		t.Fatalf("after the restart: %+v", info.Config)
	}
}

func TestEventually(t *testing.T) {
	tries := 0
	Eventually(t, 5*time.Second, "the third try", func() error {
		if tries++; tries < 3 {
			return fmt.Errorf("try %d", tries)
		}
		return nil
	})
	if tries != 3 {
		t.Fatalf("%d tries", tries)
	}

	// A condition that never holds fails with what was awaited and the
	// last error, after about `within`.
	f := &fakeTB{TB: t}
	tries = 0
	begin := time.Now()
	Eventually(f, 100*time.Millisecond, "never", func() error { tries++; return fmt.Errorf("try %d", tries) })
	if took := time.Since(begin); took < 100*time.Millisecond {
		t.Errorf("gave up after %s, within 100ms", took)
	}
	want := fmt.Sprintf("timed out after 100ms waiting for never: try %d", tries)
	if f.fatal != want {
		t.Fatalf("failure %q, want %q", f.fatal, want)
	}
}

// fakeTB records a failure instead of failing.
type fakeTB struct {
	testing.TB
	fatal string
}

func (f *fakeTB) Fatalf(format string, args ...any) { f.fatal = fmt.Sprintf(format, args...) }
