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
		return a.writeCompletion(shell, a.term.Out())
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
			tmpl = zshWithHints(fisk.ZshCompletionTemplate)
		}
		a.fisk.UsageWriter(w)
		defer a.fisk.UsageWriter(a.term.Out())
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

// zshDynamic offers what `counter --completion-bash` answers for the words
// so far (stream names, counter subjects: see hints.go), when it answers.
const zshDynamic = `local -a hint_list
        hint_list=("${(@f)$({{.App.Name}} --completion-bash "${(@)words[2,CURRENT]}" 2>/dev/null)}")
        if [[ -n "${hint_list[1]}" ]]; then
            compadd -a hint_list && return 0
        fi
        `

// zshWithHints makes fisk's zsh script ask counter for an argument's or a
// flag's values (fisk's zsh script only knows fixed ones).
func zshWithHints(tmpl string) string {
	for _, at := range []string{
		`_message -r "${anames[arg_idx]}: ${adescs[arg_idx]}"`,
		`*)    _message -r "${fplaceholders[j]}" && return 0 ;;`,
	} {
		if i := strings.Index(tmpl, at); i >= 0 {
			if strings.HasPrefix(at, "*)") {
				tmpl = tmpl[:i] + "*)    " + zshDynamic + strings.TrimPrefix(at, "*)    ") + tmpl[i+len(at):]
			} else {
				tmpl = tmpl[:i] + zshDynamic + at + tmpl[i+len(at):]
			}
		}
	}
	return tmpl
}
