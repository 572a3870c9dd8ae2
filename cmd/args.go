package cmd

import (
	"regexp"
	"slices"
	"strings"

	"github.com/choria-io/fisk"

	"github.com/jetcounter/counter/internal/counters"
)

// negativeNumber is a token such as -5: a value in a DELTA position, a
// flag (and so an error) anywhere else.
var negativeNumber = regexp.MustCompile(`^-[0-9]+$`)

// deltaPosition is, for each verb that takes a signed DELTA, the index of
// that positional argument. Only there may a bare negative number stand.
var deltaPosition = map[string]int{"incr": 1, "add": 1, "decr": 1}

// parsedArgs is a command line made safe for fisk, which lexes every token
// that starts with '-' as a flag (so `incr x -5` and `--reason -5` fail),
// drops every "--" (so `incr x -- --` added +1) and reads "-" as "".
type parsedArgs struct {
	args []string
	// verb is the command named, "" when none is.
	verb string
	// help is true when the line asks for help, a version or completions.
	help bool
	// words is true when any argument that is not a flag was given.
	words bool
	// doubleDash is set when a positional argument is a literal "--",
	// which fisk cannot pass on: the caller refuses it.
	doubleDash bool
}

// normalizeArgs rewrites args so that fisk reads them as a Unix tool
// would: a flag's value may start with '-' (--password -12345 becomes
// --password=-12345); a negative number is a value only as a DELTA; after
// "--" every token is an argument; "-" is an argument. Positional arguments
// that fisk would misread are moved, in order, behind one "--".
func normalizeArgs(app *fisk.Application, args []string) parsedArgs {
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "-") }) {
		// Nothing fisk could misread (the common one-shot line): skip
		// building the model, a tenth of a millisecond at start-up.
		out := parsedArgs{args: args, words: len(args) > 0}
		if len(args) > 0 {
			out.verb = args[0]
			out.help = args[0] == "help"
		}
		return out
	}
	if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--completion-") }) {
		// Shell completion passes the partial command line as typed
		// (a lone "--" asks for flags): fisk must see it unchanged.
		return parsedArgs{args: args, help: true}
	}
	model := app.Model()
	takesValue := map[string]bool{}
	shortName := map[rune]string{}
	addFlags := func(flags []*fisk.FlagModel) {
		for _, f := range flags {
			takesValue[f.Name] = !f.IsBoolFlag()
			if f.Short != 0 {
				shortName[f.Short] = f.Name
			}
		}
	}
	addFlags(model.Flags)
	commands := map[string]string{}
	for _, c := range model.FlattenedCommands() {
		addFlags(c.Flags)
		commands[c.Name] = c.Name
		for _, a := range c.Aliases {
			commands[a] = c.Name
		}
	}

	var out parsedArgs
	var front, back []string // back goes behind "--"
	positional := 0
	argsOnly := false
	for i := 0; i < len(args); i++ {
		tok := args[i]
		isPositional := false
		protect := false
		switch {
		case argsOnly:
			isPositional, protect = true, true
			if tok == "--" {
				out.doubleDash = true
			}
		case tok == "--":
			argsOnly = true
			continue
		case tok == "-":
			isPositional, protect = true, true
		case negativeNumber.MatchString(tok) && out.verb != "" && deltaPosition[out.verb] == positional:
			isPositional, protect = true, true
		case strings.HasPrefix(tok, "--"):
			name, _, hasValue := strings.Cut(tok[2:], "=")
			switch name {
			case "help", "help-long", "help-man", "version", "completion-bash", "completion-script-bash", "completion-script-zsh":
				out.help = true
			}
			if !hasValue && takesValue[name] && i+1 < len(args) {
				tok += "=" + args[i+1]
				i++
			}
		case strings.HasPrefix(tok, "-"):
			if tok == "-h" {
				out.help = true
			}
			if long, ok := shortName[rune(tok[1])]; ok && len(tok) == 2 && takesValue[long] && i+1 < len(args) {
				tok = "--" + long + "=" + args[i+1]
				i++
			}
		default:
			if out.verb == "" {
				if name, ok := commands[tok]; ok {
					out.verb = name
					if name == "help" {
						out.help = true
					}
					break
				}
			}
			isPositional = true
		}
		if isPositional {
			out.words = true
			positional++
			if protect || len(back) > 0 {
				back = append(back, tok)
				continue
			}
		}
		front = append(front, tok)
	}
	out.args = front
	if len(back) > 0 {
		out.args = append(append(out.args, "--"), back...)
	}
	return out
}

// validStreamFlag checks --stream before connecting, the same way for every
// verb that has it: exit 2 naming the flag, never the library's error.
func validStreamFlag(name string) error {
	if name == "" {
		return nil
	}
	return counters.ValidName("--stream", name)
}
