package cmd

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestGetSettleRightAfterCreate: a script that increments and reads an
// aggregate created a moment ago gets the sum, at every tier, instead of
// "has no value" while the new sources start.
func TestGetSettleRightAfterCreate(t *testing.T) {
	url := cliServer(t)
	mustRunAt(t, url, "create", "DE", "--subjects", "count.de.>")
	mustRunAt(t, url, "create", "PL", "--subjects", "count.pl.>")
	mustRunAt(t, url, "incr", "count.de.hits", "5")
	mustRunAt(t, url, "incr", "count.pl.hits", "10")
	// Created straight through the API, then read at once: no time for
	// the new sources to start.
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	source := func(name, from, to string) string {
		return `{"name":"` + name + `","filter_subject":"","subject_transforms":[{"src":"` + from + `","dest":"` + to + `"}]}`
	}
	for _, cfg := range []string{
		`{"name":"EU","subjects":["count.eu.>"],"allow_msg_counter":true,"allow_direct":true,"sources":[` + source("DE", "count.de.>", "count.eu.>") + `,` + source("PL", "count.pl.>", "count.eu.>") + `]}`,
		`{"name":"GLOBAL","subjects":["count.all.>"],"allow_msg_counter":true,"allow_direct":true,"sources":[` + source("EU", "count.eu.>", "count.all.>") + `]}`,
	} {
		name := strings.Split(cfg, `"`)[3]
		msg, err := nc.Request("$JS.API.STREAM.CREATE."+name, []byte(cfg), 5*time.Second)
		if err != nil || strings.Contains(string(msg.Data), `"error"`) {
			t.Fatalf("create %s: %v %s", name, err, msg.Data)
		}
	}

	// Two tiers up, right after creating both: the sources have not started.
	if got := mustRunAt(t, url, "get", "count.all.hits", "--settle"); got != "15\n" {
		t.Fatalf("get count.all.hits --settle = %q, want 15", got)
	}
	// Increments a moment ago, read at once through a pattern and --stream.
	mustRunAt(t, url, "incr", "count.de.hits", "1")
	mustRunAt(t, url, "incr", "count.pl.other", "7")
	if got := mustRunAt(t, url, "get", "count.all.>", "--stream", "GLOBAL", "--settle=5s"); got != "count.all.hits\t16\ncount.all.other\t7\n" {
		t.Fatalf("get count.all.> --settle=5s = %q", got)
	}
	// Every tier, with --tiers and with topology --subject.
	mustRunAt(t, url, "incr", "count.pl.hits", "-10")
	want := "0\tPL\tcount.pl.hits\t0\t-\n1\tEU\tcount.eu.hits\t6\tdirect 0; DE count.de.hits=6; PL count.pl.hits=0\n2\tGLOBAL\tcount.all.hits\t6\tdirect 0; EU count.eu.hits=6\n"
	if got := mustRunAt(t, url, "get", "count.pl.hits", "--tiers", "--settle"); got != want {
		t.Fatalf("get --tiers --settle:\n%s\nwant:\n%s", got, want)
	}
	mustRunAt(t, url, "incr", "count.pl.hits", "3")
	if got := mustRunAt(t, url, "topology", "--subject", "count.pl.hits", "--settle"); !strings.Contains(got, "2\tGLOBAL\tcount.all.hits\t9\t") {
		t.Fatalf("topology --subject --settle:\n%s", got)
	}
	// A counter without sources: nothing to wait for.
	if got := mustRunAt(t, url, "get", "count.de.hits", "--settle"); got != "6\n" {
		t.Fatalf("leaf --settle = %q", got)
	}
	for _, args := range [][]string{
		{"get", "count.de.hits", "--settle=0s"},
		{"get", "count.de.hits", "--settle=soon"},
		{"topology", "--settle"},
	} {
		if code, _, errs := runAt(t, url, "", false, args...); code != ExitUsage {
			t.Fatalf("%v: exit %d, want 2: %s", args, code, errs)
		}
	}
}

// TestGetSettleStalledSource: an aggregate whose source never delivers
// (a counter stream sourcing a plain stream stalls silently) says it is
// catching up on a plain get, and --settle gives up with exit 4 naming the
// source.
func TestGetSettleStalledSource(t *testing.T) {
	url := cliServer(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// A plain stream holding what looks like a counter value.
	if _, err := nc.Request("$JS.API.STREAM.CREATE.DE", []byte(`{"name":"DE","subjects":["count.de.>"],"storage":"memory","allow_direct":true}`), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Request("count.de.hits", []byte(`{"val":"5"}`), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	mustRunAt(t, url, "create", "EU", "--subjects", "count.eu.>", "--source", "DE:count.de.>:count.eu.>", "--force")

	code, _, errs := runAt(t, url, "", false, "get", "count.eu.hits")
	if code != ExitNotFound || !strings.Contains(errs, "count.eu.hits has no value in stream EU") ||
		!strings.Contains(errs, "stream EU is still catching up with the streams it reads from (DE below it has a value)") || !strings.Contains(errs, "--settle") {
		t.Fatalf("plain get: exit %d, stderr %q", code, errs)
	}
	start := time.Now()
	code, out, errs := runAt(t, url, "", false, "get", "count.eu.hits", "--settle=300ms")
	if code != ExitUnavailable || out != "" || !strings.Contains(errs, "stream EU has not caught up with its source DE for count.eu.hits") {
		t.Fatalf("--settle: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("--settle=300ms took %s", took)
	}
	// A counter no source has a value for is simply missing: no hint.
	code, _, errs = runAt(t, url, "", false, "get", "count.eu.none")
	if code != ExitNotFound || strings.Contains(errs, "catching up") {
		t.Fatalf("missing counter: exit %d, stderr %q", code, errs)
	}
}
