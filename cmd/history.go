package cmd

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/history"
)

func addHistory(a *app) {
	var (
		subject string
		opts    history.HistoryOptions
		since   string
		asJSON  bool
	)
	c := a.fisk.Command("history", "Show every retained change of a counter: delta, value, where it came from, resets")
	c.Arg("subject", "Counter subject (no wildcards)").Required().StringVar(&subject)
	c.Flag("stream", "Read at this stream (tier) instead of the stream that owns the subject").PlaceHolder("NAME").StringVar(&opts.Stream)
	c.Flag("since", "Only changes stored since WHEN: a time (2026-11-23T03:00:00Z, or 2026-11-23 03:00 local) or a duration ago (90m, 2h, 7d)").PlaceHolder("WHEN").StringVar(&since)
	c.Flag("last", "Only the last N changes (read from near the end, not from the start)").PlaceHolder("N").SetValue(wholeNumber{"--last", &opts.Last})
	c.Flag("json", "Print one JSON line per change (values and deltas are strings)").UnNegatableBoolVar(&asJSON)
	c.Cheat("history", `# why did it jump? every change, oldest first
counter history orders.done
# the last 20 changes, or those of the last hour
counter history orders.done --last 20
counter history orders.done --since 1h
# an aggregate: which region sent each change
counter history count.eu.hits --stream EU
# for a script: JSON lines, values as strings
counter history orders.done --json | jq -r 'select(.delta | startswith("-")) | .seq'`)

	a.verbs["history"] = func(ctx context.Context) error {
		if err := counters.ValidSubject(subject, false); err != nil {
			return err
		}
		if err := validStreamFlag(opts.Stream); err != nil {
			return err
		}
		if opts.Last < 0 {
			return errkind.Invalidf("--last %d: want a positive number of changes", opts.Last)
		}
		if since != "" {
			t, err := parseSince(since, time.Now())
			if err != nil {
				return err
			}
			opts.Since = t
		}
		client, err := a.conn.connect(ctx, false)
		if err != nil {
			return err
		}
		defer client.Conn().Close()
		out := a.printer(asJSON).NewHistory()
		info, err := history.History(ctx, client, subject, opts, func(m history.HistoryMsg) error {
			if err := out.Write(m); err != nil {
				return err
			}
			return nil
		})
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if note := historyNote(info, opts); note != "" {
			a.term.Notef("%s", note)
		}
		return nil
	}
}

// historyNote says, on stderr, what the printed rows do not: that nothing
// changed in the window, or where the retained history starts when its
// first message is not among them.
func historyNote(info *history.HistoryInfo, opts history.HistoryOptions) string {
	if info.Shown == 0 {
		return fmt.Sprintf("no change of %s in stream %s since %s", info.Subject, info.Stream, opts.Since.UTC().Format(time.RFC3339))
	}
	if info.First == nil || info.Total == 0 || uint64(info.Shown) >= info.Total {
		return "" // everything shown, or unknown
	}
	note := fmt.Sprintf("showing %d of %d retained changes of %s in stream %s; retained history starts at seq %d (%s)",
		info.Shown, info.Total, info.Subject, info.Stream, info.First.Seq, info.First.Time.UTC().Format(time.RFC3339))
	if info.Purged() {
		note += ", older messages were purged"
	}
	return note
}

var daysAgo = regexp.MustCompile(`^([0-9]+)d$`)

// parseSince reads --since: an RFC 3339 time, a local date and time, or a
// duration before now (Go syntax, plus whole days such as 7d).
func parseSince(s string, now time.Time) (time.Time, error) {
	return parseWhen("--since", s, now)
}

// parseWhen reads a moment given to flag (--since, get --at) in the forms
// parseSince describes.
func parseWhen(flag, s string, now time.Time) (time.Time, error) {
	if m := daysAgo.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err == nil && n <= 100000 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, errkind.Invalidf("%s %s: want a duration ago such as 2h, without a sign", flag, s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errkind.Invalidf("%s %q: want a time such as 2026-11-23T03:00:00Z or \"2026-11-23 03:00\" (local), or a duration ago such as 90m, 2h or 7d", flag, s)
}
