package cmd

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"text/template"

	"github.com/choria-io/fisk"
	"github.com/jetcounter/counter/internal/errkind"
)

// examplesSection ends a verb's --help with its examples (its Cheat).
const examplesSection = `{{if .Context.SelectedCommand -}}
{{if .Context.SelectedCommand.Cheat -}}
Examples:
{{.Context.SelectedCommand.Cheat|IndentLines 2}}

{{end -}}
{{end -}}
`

// connectionSection replaces the global flags at the end of a verb's
// --help: their names in a few lines (each is explained by counter --help),
// so that at a terminal of 30 rows the verb's own flags and examples stay
// on the screen. counter --help itself lists them in full.
const connectionSection = `{{if GlobalFlags .Context|VisibleFlags -}}
{{if .Context.SelectedCommand -}}
Connection flags ('counter --help' explains each; NATS_URL and nats contexts work too):
{{GlobalFlags .Context|VisibleFlags|FlagNames|Wrap 2 -}}
{{else if .HelpFlagIsSet -}}
Global Flags:
{{GlobalFlags .Context|FlagsToTwoColumns|FormatTwoColumns}}
{{else -}}
Pass --help to see global flags applicable to this command.
{{end -}}
{{end -}}
`

// addCheat adds `counter cheat [VERB]` and the examples at the end of each
// verb's --help, both from the examples every verb sets with Cheat.
func addCheat(a *app) {
	if tmpl, ok := withExamples(fisk.CompactMainUsageTemplate); ok {
		tmpl, ok = withConnectionSection(tmpl)
		if ok {
			a.fisk.UsageTemplate(tmpl)
			a.fisk.UsageFuncs(template.FuncMap{"IndentLines": indentLines, "FlagNames": flagNames})
		}
	}
	var verb string
	c := a.fisk.Command("cheat", "Print examples: every verb's, or one verb's (the same as at the end of its --help)").Alias("examples")
	c.Arg("verb", "The verb to show examples of").HintAction(func() []string {
		var names []string
		for name := range a.verbs {
			if name != "man" && name != "cheat" {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		return names
	}).StringVar(&verb)
	a.verbs["cheat"] = func(context.Context) error {
		return a.printCheats(verb)
	}
}

// withExamples inserts the examples section into a fisk usage template,
// after the flags and before the global flags.
func withExamples(tmpl string) (string, bool) {
	const before = "{{if GlobalFlags .Context|VisibleFlags -}}"
	if !strings.Contains(tmpl, before) {
		return tmpl, false
	}
	return strings.Replace(tmpl, before, examplesSection+before, 1), true
}

// withConnectionSection puts connectionSection where the template lists
// the global flags.
func withConnectionSection(tmpl string) (string, bool) {
	const section = `{{if GlobalFlags .Context|VisibleFlags -}}
{{if .HelpFlagIsSet -}}
Global Flags:
{{ GlobalFlags .Context|FlagsToTwoColumns|FormatTwoColumns}}
{{else -}}
Pass --help to see global flags applicable to this command.
{{end -}}
{{end -}}
`
	if !strings.Contains(tmpl, section) {
		return tmpl, false
	}
	return strings.Replace(tmpl, section, connectionSection, 1), true
}

// flagNames lists flags by name (-s/--server, --context, ...), leaving out
// --help and --version.
func flagNames(flags []*fisk.FlagModel) string {
	var names []string
	for _, f := range flags {
		if f.Name == "help" || f.Name == "version" {
			continue
		}
		n := "--" + f.Name
		if f.Short != 0 {
			n = "-" + string(f.Short) + "/" + n
		}
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}

func indentLines(n int, s string) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "\n")
}

func (a *app) printCheats(verb string) error {
	m := a.fisk.Model()
	out := a.printer(false)
	if verb != "" {
		for _, c := range m.Commands {
			if c.Name == verb || slices.Contains(c.Aliases, verb) {
				if c.Cheat == "" {
					return errkind.Invalidf("no examples for %s: see 'counter %s --help'", c.Name, c.Name)
				}
				return out.Line(strings.TrimRight(c.Cheat, "\n"))
			}
		}
		msg := fmt.Sprintf("no verb %q", verb)
		if s := suggestCommand(m, verb); s != "" {
			msg += fmt.Sprintf(": did you mean 'counter cheat %s'?", strings.Fields(s)[0])
		}
		return errkind.Invalidf("%s (see 'counter --help')", msg)
	}
	// Every verb, in the order of counter --help.
	var names []string
	for _, c := range m.Commands {
		if !c.Hidden && c.Cheat != "" {
			names = append(names, c.Name)
		}
	}
	order := map[string]int{}
	for i, c := range m.Commands {
		order[c.Name] = i
	}
	sort.SliceStable(names, func(i, j int) bool { return order[names[i]] < order[names[j]] })
	var b strings.Builder
	for i, name := range names {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "### counter %s\n%s\n", name, strings.TrimRight(m.Cheats[name], "\n"))
	}
	return out.Line(strings.TrimRight(b.String(), "\n"))
}
