package cmd

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/choria-io/fisk"
)

func addCompletion(a *app) {
	var shell string
	c := a.fisk.Command("completion", "Print the shell completion script for bash, zsh or fish")
	c.Arg("shell", "bash, zsh or fish").Required().EnumVar(&shell, "bash", "zsh", "fish")
	c.Cheat("completion", `# bash, for this shell
source <(counter completion bash)
# zsh
counter completion zsh > "${fpath[1]}/_counter"
# fish
counter completion fish > ~/.config/fish/completions/counter.fish`)
	a.verbs["completion"] = func(context.Context) error {
		return a.writeCompletion(shell, a.env.Stdout)
	}
}

// writeCompletion writes the completion script for shell. bash and zsh use
// fisk's own scripts (they ask `counter --completion-bash` at run time);
// fish is generated here from the command model.
func (a *app) writeCompletion(shell string, w io.Writer) error {
	// Parsing initialises fisk's model (it adds the help command), so the
	// script is the same whether or not a command line was parsed first.
	ctx, err := a.fisk.ParseContext(nil)
	if err != nil {
		return err
	}
	switch shell {
	case "bash", "zsh":
		tmpl := fisk.BashCompletionTemplate
		if shell == "zsh" {
			tmpl = fisk.ZshCompletionTemplate
		}
		a.fisk.UsageWriter(w)
		defer a.fisk.UsageWriter(a.env.Stdout)
		return a.fisk.UsageForContextWithTemplate(ctx, 2, tmpl)
	case "fish":
		return fishCompletion(a.fisk.Model(), w)
	}
	return fmt.Errorf("no completion for shell %q", shell)
}

func fishCompletion(m *fisk.ApplicationModel, w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# fish completion for %s; regenerate with: %s completion fish\n", m.Name, m.Name)
	fmt.Fprintf(&b, "complete -c %s -f\n", m.Name)
	// Stream names and counter subjects come from the server, through the
	// same --completion-bash that bash and zsh use (short timeout).
	fmt.Fprintf(&b, "function __%s_complete\n    set -l tokens (commandline -opc) (commandline -ct)\n    %s --completion-bash $tokens[2..-1] 2>/dev/null\nend\n", m.Name, m.Name)
	for _, f := range m.Flags {
		fishFlag(&b, m.Name, "", f)
	}
	for _, c := range m.Commands {
		if c.Hidden {
			continue
		}
		names := append([]string{c.Name}, c.Aliases...)
		fmt.Fprintf(&b, "complete -c %s -n __fish_use_subcommand -a %s -d %s\n", m.Name, c.Name, fishQuote(c.Help))
		cond := "__fish_seen_subcommand_from " + strings.Join(names, " ")
		for _, f := range c.Flags {
			fishFlag(&b, m.Name, cond, f)
		}
		if slices.Contains(hintedVerbs, c.Name) {
			fmt.Fprintf(&b, "complete -c %s -n %s -a '(__%s_complete)'\n", m.Name, fishQuote(cond), m.Name)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fishFlag(b *strings.Builder, app, cond string, f *fisk.FlagModel) {
	if f.Hidden || f.Name == "help" || f.Name == "version" && cond != "" {
		return
	}
	fmt.Fprintf(b, "complete -c %s", app)
	if cond != "" {
		fmt.Fprintf(b, " -n %s", fishQuote(cond))
	}
	fmt.Fprintf(b, " -l %s", f.Name)
	if f.Short != 0 {
		fmt.Fprintf(b, " -s %c", f.Short)
	}
	if !f.IsBoolFlag() {
		b.WriteString(" -r")
		if slices.Contains(hintedFlags, f.Name) && cond != "" {
			fmt.Fprintf(b, " -a '(__%s_complete)'", app)
		} else if len(f.Completions) > 0 {
			fmt.Fprintf(b, " -a %s", fishQuote(strings.Join(f.Completions, " ")))
		} else if strings.Contains(strings.ToUpper(f.PlaceHolder), "FILE") || strings.Contains(f.PlaceHolder, "DIR") {
			b.WriteString(" -F")
		}
	}
	fmt.Fprintf(b, " -d %s\n", fishQuote(f.Help))
}

func fishQuote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}
