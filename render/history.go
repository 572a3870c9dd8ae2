package render

import (
	"bufio"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/history"
	"github.com/jetcounter/counter/internal/terminal"
)

// HistoryJSON is one message of `counter history --json` (one per line).
// Values and deltas are strings.
type HistoryJSON struct {
	Subject string `json:"subject"`
	Stream  string `json:"stream"`
	Seq     uint64 `json:"seq"`
	Time    string `json:"time"`
	Delta   string `json:"delta"`
	Value   string `json:"value"`
	// Origin is "direct" or "source"; the source fields say which.
	Origin        string                       `json:"origin"`
	Source        string                       `json:"source,omitempty"`
	SourceKey     string                       `json:"source_key,omitempty"`
	SourceSubject string                       `json:"source_subject,omitempty"`
	SourceSeq     uint64                       `json:"source_seq,omitempty"`
	Sources       map[string]map[string]string `json:"sources,omitempty"`
	MsgID         string                       `json:"msg_id,omitempty"`
	ResetReason   string                       `json:"reset_reason,omitempty"`
	ResetBy       string                       `json:"reset_by,omitempty"`
	ResetRun      string                       `json:"reset_run,omitempty"`
	ResetTotal    string                       `json:"reset_total,omitempty"`
	// The undo_ fields are on an undo message: the reset it reverses
	// (stream, sequence, run, reason), who undid it and why.
	UndoStream      string `json:"undo_stream,omitempty"`
	UndoSeq         uint64 `json:"undo_seq,omitempty"`
	UndoRun         string `json:"undo_run,omitempty"`
	UndoResetReason string `json:"undo_reset_reason,omitempty"`
	UndoBy          string `json:"undo_by,omitempty"`
	UndoReason      string `json:"undo_reason,omitempty"`
	// FirstRetained marks the first retained message; PurgedBefore says
	// older messages of the counter were purged.
	FirstRetained bool   `json:"first_retained,omitempty"`
	PurgedBefore  bool   `json:"purged_before,omitempty"`
	Error         string `json:"error,omitempty"`
}

// HistoryWriter prints `counter history`: a table on a terminal (written at
// Close), tab-separated rows in a pipe and JSON lines with --json, both
// written as the messages arrive.
type HistoryWriter struct {
	p    Printer
	bw   *bufio.Writer
	enc  *jsonEncoder
	rows [][]string
}

// HistoryHeader is the table's header (and the TSV's column order).
var HistoryHeader = []string{"SEQ", "TIME", "DELTA", "VALUE", "ORIGIN", "NOTE"}

// NewHistory starts printing the history of a counter.
func (p Printer) NewHistory() *HistoryWriter {
	return &HistoryWriter{p: p, bw: bufio.NewWriterSize(p.W, 64<<10), enc: newJSONEncoder(false)}
}

// Write prints (or, for the table, keeps) one message.
func (h *HistoryWriter) Write(m history.HistoryMsg) error {
	if h.p.JSON {
		return h.enc.encode(h.bw, historyJSON(m))
	}
	row := []string{
		strconv.FormatUint(m.Seq, 10),
		m.Time.UTC().Format(time.RFC3339Nano),
		deltaText(m.Delta),
		valueText(m.Value),
		originText(m.Origin),
		strings.Join(historyNotes(m), "; "),
	}
	if h.p.TTY {
		row[1] = m.Time.UTC().Format("2006-01-02T15:04:05.000Z")
		for i := range row {
			row[i] = terminal.Visible(row[i])
		}
		h.rows = append(h.rows, row)
		return nil
	}
	// One message, one line: a tab in a header value would split it.
	for i, cell := range row {
		row[i] = strings.Map(oneLine, cell)
	}
	h.bw.WriteString(strings.Join(row, "\t"))
	return h.bw.WriteByte('\n')
}

// Flush writes what is buffered, so a long read reaches a pipe steadily.
func (h *HistoryWriter) Flush() error { return h.bw.Flush() }

// Close writes the table (on a terminal) and flushes.
func (h *HistoryWriter) Close() error {
	if h.p.TTY && !h.p.JSON {
		if err := h.bw.Flush(); err != nil {
			return err
		}
		if len(h.rows) == 0 {
			return nil
		}
		return h.p.Table(HistoryHeader, h.rows, 0, 2, 3)
	}
	return h.bw.Flush()
}

func oneLine(r rune) rune {
	if r == '\t' || r == '\n' || r == '\r' {
		return ' '
	}
	return r
}

func deltaText(d *big.Int) string {
	if d == nil {
		return "?"
	}
	return counters.Signed(d)
}

func valueText(v *big.Int) string {
	if v == nil {
		return "?"
	}
	return v.String()
}

// originText is "direct", or the source as --source would name it:
// STREAM[@DOMAIN]:SUBJECT (the upstream subject, before any transform).
func originText(o history.Origin) string {
	if o.Direct() {
		return "direct"
	}
	name := o.Stream
	if name == "" {
		name = o.Key
	}
	return name + ":" + o.Subject
}

func historyNotes(m history.HistoryMsg) []string {
	var notes []string
	switch {
	case m.FirstRetained && m.UnexplainedRecord():
		notes = append(notes, "first message: its sources record is explained by no source message (written by another client?)")
	case m.FirstRetained && !m.StartsCounter():
		notes = append(notes, "retained history starts here (older messages were purged)")
	}
	if m.IsReset() {
		n := "reset"
		if m.ResetReason != "" {
			n += ": " + m.ResetReason
		}
		var who []string
		if m.ResetBy != "" {
			who = append(who, "by "+m.ResetBy)
		}
		if m.ResetRun != "" {
			who = append(who, "run "+m.ResetRun)
		}
		if len(who) > 0 {
			n += " (" + strings.Join(who, ", ") + ")"
		}
		notes = append(notes, n)
	}
	if u := m.Undo; u != nil {
		n := "undo of reset " + u.Stream + " seq " + strconv.FormatUint(u.Seq, 10)
		if u.ResetReason != "" {
			n += " (" + u.ResetReason + ")"
		}
		if u.Run != "" {
			n += ", run " + u.Run
		}
		if u.By != "" {
			n += ", by " + u.By
		}
		if u.Reason != "" {
			n += ": " + u.Reason
		}
		notes = append(notes, n)
	}
	if m.MsgID != "" {
		notes = append(notes, "id "+m.MsgID)
	}
	if m.Err != nil {
		notes = append(notes, "unreadable: "+m.Err.Error())
	}
	return notes
}

func historyJSON(m history.HistoryMsg) HistoryJSON {
	out := HistoryJSON{
		Subject: m.Subject, Stream: m.Stream, Seq: m.Seq,
		Time:   m.Time.UTC().Format(time.RFC3339Nano),
		Delta:  deltaText(m.Delta),
		Value:  valueText(m.Value),
		Origin: "direct",
		MsgID:  m.MsgID, ResetReason: m.ResetReason, ResetBy: m.ResetBy,
		ResetRun: m.ResetRun, ResetTotal: signed(m.ResetTotal),
		FirstRetained: m.FirstRetained,
		PurgedBefore:  m.FirstRetained && !m.StartsCounter(),
		Sources:       sourcesJSON(m.Sources),
	}
	if m.Delta == nil {
		out.Delta = ""
	}
	if m.Value == nil {
		out.Value = ""
	}
	if !m.Origin.Direct() {
		out.Origin = "source"
		out.Source = m.Origin.Stream
		if out.Source == "" {
			out.Source = m.Origin.Key
		}
		out.SourceKey, out.SourceSubject, out.SourceSeq = m.Origin.Key, m.Origin.Subject, m.Origin.Seq
	}
	if u := m.Undo; u != nil {
		out.UndoStream, out.UndoSeq, out.UndoRun = u.Stream, u.Seq, u.Run
		out.UndoResetReason, out.UndoBy, out.UndoReason = u.ResetReason, u.By, u.Reason
	}
	if m.Err != nil {
		out.Error = m.Err.Error()
	}
	return out
}

func sourcesJSON(s counters.Sources) map[string]map[string]string {
	if len(s) == 0 {
		return nil
	}
	out := make(map[string]map[string]string, len(s))
	for _, key := range slices.Sorted(maps.Keys(s)) {
		m := make(map[string]string, len(s[key]))
		for subj, v := range s[key] {
			m[subj] = v.String()
		}
		out[key] = m
	}
	return out
}
