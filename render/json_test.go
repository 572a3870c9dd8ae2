package render

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/history"
	"github.com/jetcounter/counter/internal/live"
	"github.com/jetcounter/counter/internal/terminal"
)

// hostile holds every kind of character a terminal would act on: C0 (ESC,
// BEL), DEL and C1 (CSI as U+009B, which xterm obeys UTF-8 encoded).
const hostile = "x\x1b]0;owned\x07\x7f\u009b2J\u0085"

// TestJSONEscapesEveryControl: every JSON counter writes (a document, watch
// lines, history and audit lines) escapes DEL and C1 as well as C0, in a
// pipe too, and still means the same text.
func TestJSONEscapesEveryControl(t *testing.T) {
	at := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	writers := map[string]func(p Printer) error{
		"get": func(p Printer) error {
			return p.Counters([]counters.Counter{{Subject: "c." + hostile, Stream: "S" + hostile, Value: big.NewInt(1), Updated: at,
				Sources: counters.Sources{"SRC" + hostile: {"c." + hostile: big.NewInt(1)}}}}, GetOptions{Sources: true})
		},
		"watch": func(p Printer) error {
			w := p.NewWatchLines()
			if err := w.Write(live.Line{Subject: "c." + hostile, Stream: "S", Value: big.NewInt(1), Seq: 1, Time: at}); err != nil {
				return err
			}
			return w.Flush()
		},
		"history": func(p Printer) error {
			h := p.NewHistory()
			if err := h.Write(history.HistoryMsg{Stream: "S", Seq: 1, Time: at, Subject: "c.x", Value: big.NewInt(0), Delta: big.NewInt(0), ResetReason: hostile}); err != nil {
				return err
			}
			return h.Close()
		},
		"audit": func(p Printer) error {
			return p.Audit([]history.CounterAudit{{Subject: "c." + hostile, Stream: "S", Value: big.NewInt(1), Direct: big.NewInt(1)}})
		},
	}
	for name, write := range writers {
		for _, tty := range []bool{false, true} {
			var buf bytes.Buffer
			if err := write(Printer{W: &buf, TTY: tty, JSON: true}); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out := buf.String()
			for _, r := range out {
				if terminal.IsControl(r) && r != '\n' {
					t.Errorf("%s (tty %v): %U left raw in %q", name, tty, r, out)
				}
			}
			if !strings.Contains(out, `x\u001b]0;owned\u0007\u007f\u009b2J\u0085`) {
				t.Errorf("%s (tty %v): not escaped as JSON: %s", name, tty, out)
			}
			dec := json.NewDecoder(strings.NewReader(out))
			for dec.More() {
				var v any
				if err := dec.Decode(&v); err != nil {
					t.Fatalf("%s: not JSON: %v\n%s", name, err, out)
				}
			}
		}
	}
}
