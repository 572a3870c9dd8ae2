package cmd

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/choria-io/fisk"
)

// habits maps words other tools taught (redis-cli, natscli, kubectl) to
// the verb that does that here.
var habits = map[string]string{
	"inc": "incr", "increment": "incr", "incrby": "incr", "add": "incr",
	"dec": "decr", "decrby": "decr",
	"list": "get", "ls": "get", "view": "get", "show": "get", "info": "get", "value": "get", "read": "get",
	"set": "reset", "del": "reset", "delete": "reset", "rm": "reset", "zero": "reset", "clear": "reset",
	"tree": "topology", "graph": "topology", "check": "topology --check",
	"tail": "watch", "follow": "watch", "top": "watch", "monitor": "watch",
	"new": "create", "add-stream": "create",
	"examples": "cheat", "example": "cheat",
}

var (
	unknownCommand = regexp.MustCompile(`expected command but got "([^"]*)"`)
	unknownFlag    = regexp.MustCompile(`unknown long flag '--([^']*)'`)
)

// withSuggestion adds "did you mean …?" to a parse error about an unknown
// verb or flag.
func (a *app) withSuggestion(err error, args []string) error {
	if err == nil {
		return nil
	}
	m := a.fisk.Model()
	if sub := unknownCommand.FindStringSubmatch(err.Error()); sub != nil {
		if s := suggestCommand(m, sub[1]); s != "" {
			return fmt.Errorf("%w: did you mean 'counter %s'?", err, s)
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
