package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/counters"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("..", "testdata", "render", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./render -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

func big10(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return v
}

var when = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

func sample() []counters.Counter {
	return []counters.Counter{
		{Subject: "count.de.hits", Stream: "DE", Value: big10("5"), Seq: 3, Updated: when},
		{Subject: "count.eu.hits", Stream: "EU", Value: big10("1234567890123456789012345678901234567890"), Seq: 9, Updated: when,
			Sources: counters.Sources{
				"DE": {"count.de.hits": big10("5")},
				"PL": {"count.pl.hits": big10("1234567890123456789012345678901234567880")},
			}},
		{Subject: "count.pl.HITS_Mixed-case", Stream: "PL", Value: big10("-7"), Seq: 4, Updated: when},
	}
}

func TestCountersTableOnTTY(t *testing.T) {
	var buf bytes.Buffer
	if err := (Printer{W: &buf, TTY: true}).Counters(sample(), GetOptions{}); err != nil {
		t.Fatal(err)
	}
	// Subjects and headers print verbatim (no title-casing of the header).
	if !bytes.Contains(buf.Bytes(), []byte("count.pl.HITS_Mixed-case")) || !bytes.Contains(buf.Bytes(), []byte("SUBJECT")) {
		t.Fatalf("subject or header altered:\n%s", buf.String())
	}
	golden(t, "counters-tty.golden", buf.Bytes())
}

func TestCountersPipedAreTabSeparated(t *testing.T) {
	var buf bytes.Buffer
	if err := (Printer{W: &buf}).Counters(sample(), GetOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "count.de.hits\t5\tDE\n" +
		"count.eu.hits\t1234567890123456789012345678901234567890\tEU\n" +
		"count.pl.HITS_Mixed-case\t-7\tPL\n"
	if buf.String() != want {
		t.Fatalf("got %q, want %q", buf.String(), want)
	}
}

func TestSingleValueIsBare(t *testing.T) {
	var buf bytes.Buffer
	if err := (Printer{W: &buf, TTY: true}).Counters(sample()[1:2], GetOptions{Single: true}); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "1234567890123456789012345678901234567890\n" {
		t.Fatalf("got %q", buf.String())
	}
}

func TestSourcesTable(t *testing.T) {
	var buf bytes.Buffer
	list := sample()[1:2]
	list[0].Value = big10("1234567890123456789012345678901234567895") // 10 direct
	if err := (Printer{W: &buf, TTY: true}).Counters(list, GetOptions{Sources: true}); err != nil {
		t.Fatal(err)
	}
	golden(t, "sources-tty.golden", buf.Bytes())
}

func TestJSONValuesAreStrings(t *testing.T) {
	var buf bytes.Buffer
	if err := (Printer{W: &buf, JSON: true}).Counters(sample(), GetOptions{Sources: true}); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d objects", len(got))
	}
	for _, obj := range got {
		if _, ok := obj["value"].(string); !ok {
			t.Errorf("value is %T, want string", obj["value"])
		}
		if obj["updated"] != "2026-11-23T06:00:00Z" {
			t.Errorf("updated = %v", obj["updated"])
		}
	}
	src := got[1]["sources"].(map[string]any)["PL"].(map[string]any)["count.pl.hits"]
	if src != "1234567890123456789012345678901234567880" {
		t.Errorf("source value = %#v", src)
	}
}

func TestIncrJSON(t *testing.T) {
	var buf bytes.Buffer
	r := &counters.IncrResult{Subject: "hits", Stream: "H", Seq: 7, Delta: big10("-5"), Value: big10("37")}
	if err := (Printer{W: &buf, JSON: true}).Incr(r); err != nil {
		t.Fatal(err)
	}
	want := `{"subject":"hits","stream":"H","seq":7,"delta":"-5","value":"37"}` + "\n"
	if buf.String() != want {
		t.Fatalf("got %s want %s", buf.String(), want)
	}
}
