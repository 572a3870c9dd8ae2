package cmd

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"

	"github.com/choria-io/fisk"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/terminal"
)

// habits maps words other tools taught (redis-cli, natscli, kubectl) to
// the verb that does that here.
var habits = map[string]string{
	"inc": "incr", "increment": "incr", "incrby": "incr", "add": "incr",
	"dec": "decr", "decrby": "decr",
	"list": "get", "ls": "get", "view": "get", "show": "get", "info": "get", "value": "get", "read": "get",
	"del": "reset", "delete": "reset", "rm": "reset", "zero": "reset", "clear": "reset",
	"tree": "topology", "graph": "topology", "check": "topology --check",
	"tail": "watch", "follow": "watch", "top": "watch", "monitor": "watch",
	"new": "create", "add-stream": "create",
	"examples": "cheat", "example": "cheat",
}

var (
	unknownCommand = regexp.MustCompile(`expected command but got "([^"]*)"`)
	unknownFlag    = regexp.MustCompile(`unknown long flag '--([^']*)'`)
	negativeFlag   = regexp.MustCompile(`unknown short flag '(-[0-9]+)'`)
)

// withSuggestion adds "did you mean …?" to a parse error about an unknown
// verb or flag.
func (a *app) withSuggestion(err error, args []string) error {
	if err == nil {
		return nil
	}
	m := a.fisk.Model()
	if sub := unknownCommand.FindStringSubmatch(err.Error()); sub != nil {
		switch strings.ToLower(sub[1]) {
		case "set":
			return fmt.Errorf("%w: %s", err, a.setHint(args))
		case "keys", "scan":
			return fmt.Errorf("%w: did you mean \"counter get %s\"? (get with a wildcard lists counters: > matches the rest of a subject, * one token)", err, shellJoin([]string{listPattern(args, sub[1])}))
		}
		if s := suggestCommand(m, sub[1]); s != "" {
			return fmt.Errorf("%w: did you mean 'counter %s'?", err, s)
		}
		return err
	}
	if sub := negativeFlag.FindStringSubmatch(err.Error()); sub != nil {
		if fixed := a.deltaLast(args, sub[1]); fixed != "" {
			return fmt.Errorf("%w: SUBJECT comes first, then the DELTA: did you mean \"counter %s\"?", err, fixed)
		}
		return err
	}
	if sub := unknownFlag.FindStringSubmatch(err.Error()); sub != nil {
		var names []string
		for _, f := range m.Flags {
			if !f.Hidden {
				names = append(names, f.Name)
			}
		}
		for _, c := range m.Commands {
			if slices.ContainsFunc(args, func(arg string) bool { return arg == c.Name || slices.Contains(c.Aliases, arg) }) {
				for _, f := range c.Flags {
					if !f.Hidden {
						names = append(names, f.Name)
					}
				}
			}
		}
		if s := closest(strings.ToLower(sub[1]), names); s != "" {
			return fmt.Errorf("%w: did you mean --%s?", err, s)
		}
	}
	return err
}

func suggestCommand(m *fisk.ApplicationModel, word string) string {
	word = strings.ToLower(word)
	var names []string
	for _, c := range m.Commands {
		if c.Hidden {
			continue
		}
		if c.Name == word || slices.Contains(c.Aliases, word) {
			return "" // a known verb in the wrong place: fisk's message fits
		}
		names = append(names, c.Name)
		names = append(names, c.Aliases...)
	}
	if s, ok := habits[word]; ok {
		return s
	}
	s := closest(word, names)
	for _, c := range m.Commands {
		if slices.Contains(c.Aliases, s) {
			return c.Name
		}
	}
	return s
}

// closest is the name nearest to word by edit distance, if near enough to
// be a typo (at most 2 edits, and fewer than half of the word), or one
// that word is a prefix of.
func closest(word string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		d := editDistance(word, n)
		if d < bestD && d*2 < max(len(word), 2) {
			best, bestD = n, d
		}
	}
	if best != "" {
		return best
	}
	for _, n := range names {
		if len(word) >= 3 && strings.HasPrefix(n, word) {
			return n
		}
	}
	return ""
}

// editDistance is the Levenshtein distance, counting an adjacent swap as
// one edit (the most common typo).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// listPattern is the wildcard a redis-cli habit (KEYS pattern, SCAN 0
// MATCH pattern) asks for, as a NATS subject pattern: "count:*" and
// "count.*" become "count.>"; none given is "PREFIX.>".
func listPattern(args []string, verb string) string {
	i := slices.Index(args, verb)
	for _, a := range args[i+1:] {
		if strings.HasPrefix(a, "-") || strings.EqualFold(a, "match") || strings.Trim(a, "0123456789") == "" {
			continue
		}
		p := strings.ReplaceAll(a, ":", ".")
		if rest, ok := strings.CutSuffix(p, "*"); ok {
			p = rest
			if !strings.HasSuffix(p, ".") && p != "" {
				p += "."
			}
			p += ">"
		}
		return p
	}
	return "PREFIX.>"
}

// deltaLast is the command line with a negative number given before the
// SUBJECT of incr or decr (counter incr -5 hits) moved behind it, as the
// command takes it; "" when that is not what happened.
func (a *app) deltaLast(args []string, number string) string {
	v := slices.IndexFunc(args, func(a string) bool { _, ok := deltaPosition[a]; return ok })
	if v < 0 {
		return ""
	}
	rest := slices.Clone(args[v+1:])
	n := slices.Index(rest, number)
	if n < 0 {
		return ""
	}
	rest = slices.Delete(rest, n, n+1)
	takesValue := map[string]bool{}
	for _, c := range a.fisk.Model().FlattenedCommands() {
		for _, f := range c.Flags {
			takesValue["--"+f.Name] = !f.IsBoolFlag()
		}
	}
	for _, f := range a.fisk.Model().Flags {
		takesValue["--"+f.Name] = !f.IsBoolFlag()
	}
	// The first argument that is neither a flag nor a flag's value is the
	// subject.
	for i := 0; i < len(rest); i++ {
		switch {
		case takesValue[rest[i]]:
			i++
		case !strings.HasPrefix(rest[i], "-"):
			return shellJoin(append(slices.Clone(args[:v+1]), slices.Insert(rest, i+1, number)...))
		}
	}
	return ""
}

// setHint says that counters change by deltas, and shows the increment
// that would make the counter the value asked for: from its value now when
// a server answers within a second (read as 'counter get' with the same
// connection flags), else as arithmetic for the shell.
func (a *app) setHint(args []string) string {
	const deltas = "counters change by deltas, never by assignment (every tier above adds the same delta)"
	i := slices.IndexFunc(args, func(s string) bool { return strings.EqualFold(s, "set") })
	var words []string
	for _, w := range args[i+1:] {
		if !strings.HasPrefix(w, "-") || negativeNumber.MatchString(w) {
			words = append(words, w)
		}
	}
	if len(words) != 2 || counters.ValidSubject(words[0], false) != nil {
		return deltas + ": add the difference with 'counter incr SUBJECT DELTA' ('counter reset' makes a counter 0)"
	}
	subject, want := words[0], words[1]
	target, err := counters.ParseDelta(want)
	if err != nil {
		return deltas + ": add the difference with 'counter incr SUBJECT DELTA' ('counter reset' makes a counter 0)"
	}
	get := slices.Clone(args[:i])
	get = append(get, "get", subject)
	for _, w := range args[i+1:] {
		if strings.HasPrefix(w, "-") && !negativeNumber.MatchString(w) {
			get = append(get, w)
		}
	}
	if !slices.ContainsFunc(get, func(s string) bool { return strings.HasPrefix(s, "--timeout") }) {
		get = append(get, "--timeout", "1s")
	}
	// Read it as 'counter get' would, into a buffer: nothing is printed.
	quiet, _, out, _ := terminal.Test()
	if Main(get, quiet) == ExitOK {
		if now, ok := new(big.Int).SetString(strings.TrimSpace(out.String()), 10); ok {
			delta := new(big.Int).Sub(target, now)
			if delta.Sign() == 0 {
				return fmt.Sprintf("%s; %s is %s already", deltas, subject, now)
			}
			return fmt.Sprintf("%s; %s is %s now, so \"counter incr %s %s\" makes it %s (unless it changes meanwhile)", deltas, subject, now, shellJoin([]string{subject}), counters.Signed(delta), target)
		}
	}
	return fmt.Sprintf("%s; to make %s %s, add %s minus its value: counter incr %s $((%s - $(counter get %s)))", deltas, subject, target, target, shellJoin([]string{subject}), target, shellJoin([]string{subject}))
}
