//go:build unix

package cmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetcounter/counter/internal/embedded"
)

// clusterNode runs one JetStream cluster node until SIGTERM: args are
// NAME CLIENT_PORT ROUTE_PORT STORE_DIR ROUTE_URL,... It prints "ready" on
// stdout once it takes connections. A test kills it with SIGKILL to model
// a node that dies without handing its leaderships over (an in-process
// Shutdown steps down first: the election then takes milliseconds, a
// real crash 4–9 s).
func clusterNode(args []string) int {
	if len(args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: counter-test-node NAME CLIENT_PORT ROUTE_PORT STORE_DIR ROUTES")
		return 2
	}
	port, _ := strconv.Atoi(args[1])
	routePort, _ := strconv.Atoi(args[2])
	s, err := embedded.Start(embedded.Options{
		ServerName: args[0], Port: port, StoreDir: args[3],
		Cluster: &embedded.ClusterOptions{Name: "crash", Port: routePort, Routes: strings.Split(args[4], ",")},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	s.Shutdown()
	s.WaitForShutdown()
	return 0
}

// crashCluster is a 3-node JetStream cluster whose nodes run in processes
// of their own, so that one can be killed with SIGKILL.
type crashCluster struct {
	urls  []string
	names []string
	procs []*exec.Cmd
}

// startCrashCluster starts the nodes and returns once JetStream can place
// an R3 stream on them.
func startCrashCluster(t *testing.T) *crashCluster {
	t.Helper()
	bin, err := exec.LookPath("counter-test-node")
	if err != nil {
		t.Fatal(err)
	}
	// Ports free a moment ago; taken by someone else meanwhile, a node
	// fails to start and the test says so.
	ports := make([]int, 6)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	var routes []string
	for i := range 3 {
		routes = append(routes, "nats-route://127.0.0.1:"+strconv.Itoa(ports[3+i]))
	}
	cc := &crashCluster{}
	ready := make(chan error, 3)
	for i := range 3 {
		name := "c" + strconv.Itoa(i+1)
		cmd := exec.Command(bin, name, strconv.Itoa(ports[i]), strconv.Itoa(ports[3+i]), filepath.Join(t.TempDir(), "js"), strings.Join(routes, ","))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				cmd.Process.Signal(syscall.SIGTERM)
				cmd.Wait()
			}
		})
		cc.procs = append(cc.procs, cmd)
		cc.names = append(cc.names, name)
		cc.urls = append(cc.urls, "nats://127.0.0.1:"+strconv.Itoa(ports[i]))
		go func() {
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil || line != "ready\n" {
				ready <- fmt.Errorf("node %s did not start: %v %q %s", name, err, line, stderr.String())
				return
			}
			go io.Copy(io.Discard, out)
			ready <- nil
		}()
	}
	for range 3 {
		select {
		case err := <-ready:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("cluster nodes did not start within 20s")
		}
	}
	return cc
}

// kill ends node i at once, as kill -9 does.
func (cc *crashCluster) kill(t *testing.T, i int) {
	t.Helper()
	if err := cc.procs[i].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cc.procs[i].Wait()
}

// streamLeader is the index of the node leading stream, asked through url.
func (cc *crashCluster) streamLeader(t *testing.T, url, stream string) int {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		msg, err := nc.Request("$JS.API.STREAM.INFO."+stream, nil, 2*time.Second)
		if err == nil {
			var info struct {
				Cluster struct {
					Leader string `json:"leader"`
				} `json:"cluster"`
			}
			json.Unmarshal(msg.Data, &info)
			for i, n := range cc.names {
				if n == info.Cluster.Leader {
					return i
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s has no leader: %v", stream, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFaultBulkFollowLeaderKilled: `incr - --follow` connected to the
// stream leader, fed through a pipe at a steady rate, every line with an
// id; the leader's node is killed (SIGKILL: no hand-over, a real election
// of several seconds) and the feed goes on. Every line is applied exactly
// once and the run exits 0: increments with ids are sent again through the
// election instead of being given up after a few tries.
func TestFaultBulkFollowLeaderKilled(t *testing.T) {
	t.Parallel()
	cc := startCrashCluster(t)
	all := strings.Join(cc.urls, ",")
	// An R3 stream can be placed once the meta leader knows all three.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := runIn(t, all, "create", "K", "--subjects", "k.>", "--replicas", "3")
		if r.code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("create K: exit %d: %s", r.code, r.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	leader := cc.streamLeader(t, all, "K")
	var survivors []string
	for i, u := range cc.urls {
		if i != leader {
			survivors = append(survivors, u)
		}
	}
	mustRunIn(t, cc.urls[leader], "incr", "k.warm")

	bin, err := exec.LookPath("counter")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "incr", "-", "--follow")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1",
		"XDG_CONFIG_HOME=" + filepath.Join(t.TempDir(), "config"), "NATS_URL=" + cc.urls[leader]}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	pw, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := 0
	feed := func(n int) {
		for range n {
			lines++
			if _, err := fmt.Fprintf(pw, "k.x 1 line-%d\n", lines); err != nil {
				t.Fatalf("feed line %d: %v (stderr %s)", lines, err, stderr.String())
			}
			time.Sleep(5 * time.Millisecond) // about 200 lines/s
		}
	}
	feed(400)
	killed := time.Now()
	cc.kill(t, leader)
	feed(1400) // through the election and after it
	pw.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("incr - --follow did not end 60s after its input did; stderr:\n%s", stderr.String())
	}
	t.Logf("killed the leader %s ago; stderr:\n%s", time.Since(killed).Round(time.Second), stderr.String())
	if code := exitCode(t, err); code != 0 || strings.Contains(stderr.String(), "failed") || strings.Contains(stderr.String(), "unknown") && !strings.Contains(stderr.String(), " 0 unknown") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	if got := mustRunIn(t, strings.Join(survivors, ","), "get", "k.x"); got != strconv.Itoa(lines)+"\n" {
		t.Fatalf("k.x = %q after %d lines, each with an id: want exactly %d", got, lines, lines)
	}
}
