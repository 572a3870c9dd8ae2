package render

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jetcounter/counter/internal/history"
	"github.com/jetcounter/counter/internal/terminal"
)

// AuditJSON is one counter of `counter audit --json` (one per line).
type AuditJSON struct {
	Subject  string `json:"subject"`
	Stream   string `json:"stream"`
	OK       bool   `json:"ok"`
	Messages uint64 `json:"messages"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	// FirstTime is when the first retained message was stored; Complete
	// says it is the counter's first message (else older ones were
	// purged and the chain is checked from there).
	FirstTime    string                       `json:"first_time"`
	Complete     bool                         `json:"complete"`
	Value        *string                      `json:"value"`
	Direct       *string                      `json:"direct"`
	Sources      map[string]map[string]string `json:"sources,omitempty"`
	Problems     []AuditProblemJSON           `json:"problems"`
	MoreProblems int                          `json:"more_problems,omitempty"`
	Warnings     []AuditProblemJSON           `json:"warnings"`
	// Undos are the retained undo messages (direct: made on this stream;
	// else sourced from the tier that was undone).
	Undos []AuditUndoJSON `json:"undos,omitempty"`
}

// AuditUndoJSON is one undo of a reset, as audit saw it.
type AuditUndoJSON struct {
	Seq         uint64 `json:"seq"`
	Delta       string `json:"delta"`
	Direct      bool   `json:"direct"`
	UndoStream  string `json:"undo_stream"`
	UndoSeq     uint64 `json:"undo_seq"`
	UndoRun     string `json:"undo_run,omitempty"`
	ResetReason string `json:"undo_reset_reason,omitempty"`
}

// AuditProblemJSON is one problem or warning; seq 0 means the counter as
// a whole.
type AuditProblemJSON struct {
	Seq      uint64 `json:"seq,omitempty"`
	Check    string `json:"check"`
	Message  string `json:"message"`
	Expected string `json:"expected,omitempty"`
	Found    string `json:"found,omitempty"`
}

// auditTTYMaxOK is how many counters that hold a terminal table lists one
// by one.
const auditTTYMaxOK = 50

// AuditHeader is the table's header (and the TSV's column order).
var AuditHeader = []string{"SUBJECT", "STREAM", "RESULT", "CHECK", "SEQ", "DETAIL"}

// Audit prints the result of `counter audit`: per counter one row when it
// holds, one per problem and warning otherwise.
func (p Printer) Audit(list []history.CounterAudit) error {
	if p.JSON {
		bw := bufio.NewWriterSize(p.W, 64<<10)
		enc := newJSONEncoder(false)
		for _, a := range list {
			if err := enc.encode(bw, auditJSON(a)); err != nil {
				return err
			}
		}
		return bw.Flush()
	}
	if !p.TTY {
		return p.auditRows(list)
	}
	holding := 0
	for i := range list {
		if list[i].OK() {
			holding++
		}
	}
	// A person at a terminal wants the problems: past a screenful, the
	// counters that hold are one line (a pipe and --json list each).
	collapse := p.TTY && holding > auditTTYMaxOK
	var rows [][]string
	for _, a := range list {
		row := func(result, check string, seq uint64, detail string) {
			s := ""
			if seq > 0 {
				s = strconv.FormatUint(seq, 10)
			}
			rows = append(rows, []string{a.Subject, a.Stream, result, check, s, detail})
		}
		if a.OK() && !collapse {
			row("ok", "", 0, auditSummary(a))
		}
		for _, pr := range a.Problems {
			row("error", pr.Check, pr.Seq, problemDetail(pr))
		}
		if a.MoreProblems > 0 {
			row("error", "", 0, "and "+Count(a.MoreProblems, "more problem"))
		}
		for _, w := range a.Warnings {
			row("warning", w.Check, w.Seq, problemDetail(w))
		}
	}
	if collapse {
		rows = append(rows, []string{"", "", "ok", "", "", fmt.Sprintf("%s hold (a pipe or --json lists each)", Count(holding, "counter"))})
	}
	for _, r := range rows {
		for i := range r {
			if p.TTY {
				r[i] = terminal.Visible(r[i])
			} else {
				r[i] = strings.Map(oneLine, r[i])
			}
		}
	}
	return p.Table(AuditHeader, rows, 4)
}

// auditRows is Audit in a pipe: the same rows as the table's, tab-separated,
// written one by one instead of held (a million counters are a million
// rows).
func (p Printer) auditRows(list []history.CounterAudit) error {
	bw := bufio.NewWriterSize(p.W, 64<<10)
	for i := range list {
		a := &list[i]
		row := func(result, check string, seq uint64, detail string) {
			s := ""
			if seq > 0 {
				s = strconv.FormatUint(seq, 10)
			}
			for i, cell := range []string{a.Subject, a.Stream, result, check, s, detail} {
				if i > 0 {
					bw.WriteByte('\t')
				}
				bw.WriteString(strings.Map(oneLine, cell))
			}
			bw.WriteByte('\n')
		}
		if a.OK() {
			row("ok", "", 0, auditSummary(*a))
		}
		for _, pr := range a.Problems {
			row("error", pr.Check, pr.Seq, problemDetail(pr))
		}
		if a.MoreProblems > 0 {
			row("error", "", 0, "and "+Count(a.MoreProblems, "more problem"))
		}
		for _, w := range a.Warnings {
			row("warning", w.Check, w.Seq, problemDetail(w))
		}
	}
	return bw.Flush()
}

// auditSummary says what was proven for a counter that holds.
func auditSummary(a history.CounterAudit) string {
	s := fmt.Sprintf("%s = direct %s", valueText(a.Value), valueText(a.Direct))
	if len(a.Sources) > 0 {
		s += " + sources " + a.Sources.Total().String()
	}
	s += fmt.Sprintf("; %s from seq %d", Count(int(a.Messages), "message"), a.FirstSeq)
	if !a.Complete {
		s += " (older history purged)"
	}
	for _, u := range a.Undos {
		s += fmt.Sprintf("; seq %d undoes the reset at %s seq %d (%s)", u.Seq, u.Of.Stream, u.Of.Seq, deltaText(u.Delta))
	}
	return s
}

func problemDetail(p history.AuditProblem) string {
	if p.Expected == "" && p.Found == "" {
		return p.Message
	}
	return fmt.Sprintf("%s (expected %s, found %s)", p.Message, p.Expected, p.Found)
}

func auditJSON(a history.CounterAudit) AuditJSON {
	out := AuditJSON{
		Subject: a.Subject, Stream: a.Stream, OK: a.OK(), Messages: a.Messages,
		FirstSeq: a.FirstSeq, LastSeq: a.LastSeq,
		FirstTime: a.FirstTime.UTC().Format(time.RFC3339Nano),
		Complete:  a.Complete,
		Sources:   sourcesJSON(a.Sources),
		Problems:  problemsOf(a.Problems), MoreProblems: a.MoreProblems,
		Warnings: problemsOf(a.Warnings),
	}
	for _, u := range a.Undos {
		out.Undos = append(out.Undos, AuditUndoJSON{
			Seq: u.Seq, Delta: deltaText(u.Delta), Direct: u.Direct,
			UndoStream: u.Of.Stream, UndoSeq: u.Of.Seq, UndoRun: u.Of.Run, ResetReason: u.Of.ResetReason,
		})
	}
	if a.Value != nil {
		v, d := a.Value.String(), a.Direct.String()
		out.Value, out.Direct = &v, &d
	}
	return out
}

func problemsOf(list []history.AuditProblem) []AuditProblemJSON {
	out := make([]AuditProblemJSON, len(list))
	for i, p := range list {
		out[i] = AuditProblemJSON{Seq: p.Seq, Check: p.Check, Message: p.Message, Expected: p.Expected, Found: p.Found}
	}
	return out
}
