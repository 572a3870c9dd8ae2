package cmd

import (
	"context"
	"strings"
	"text/template"

	"github.com/choria-io/fisk"
)

// addMan adds the hidden `counter man`: the man page (make man writes it
// to counter.1), generated from the command model like the help, so it
// cannot drift from the verbs and flags.
func addMan(a *app) {
	a.fisk.Command("man", "Print the counter(1) man page (roff)").Hidden()
	a.verbs["man"] = func(context.Context) error {
		ctx, err := a.fisk.ParseContext(nil)
		if err != nil {
			return err
		}
		a.fisk.UsageWriter(a.term.Out())
		a.fisk.UsageFuncs(template.FuncMap{"Roff": roff})
		return a.fisk.UsageForContextWithTemplate(ctx, 2, manTemplate())
	}
}

// manTemplate is fisk's man page with a proper NAME line, each verb's
// examples, and the exit statuses scripts rely on.
func manTemplate() string {
	t := fisk.ManPageTemplate
	t = strings.Replace(t, ".SH \"NAME\"\n{{.App.Name}}\n", ".SH \"NAME\"\n{{.App.Name}} \\- {{.App.Help|Roff}}\n", 1)
	t = strings.Replace(t, "{{.Help}}\n{{template \"FormatFlags\" . -}}\n",
		"{{.Help|Roff}}\n{{template \"FormatFlags\" . -}}\n{{if .Cheat -}}\n.PP\nExamples:\n.PP\n.RS 4\n.nf\n{{.Cheat|Roff}}\n.fi\n.RE\n{{end -}}\n", 1)
	return t + `.SH "EXIT STATUS"
.TP
0
success
.TP
1
error
.TP
2
usage or invalid input: nothing was written
.TP
3
not found (no stream for the subject, no value, nothing matched)
.TP
4
cannot connect, authorization or permission denied, JetStream unavailable, an account limit reached, no stream leader yet, \-\-settle timed out, or an increment's outcome unknown: retry (with \-\-id to make an increment's retry safe)
.TP
5
a check found problems (topology \-\-check, audit)
.TP
6
refused: confirmation needed and no \-\-force
.SH "ENVIRONMENT"
NATS_URL, NATS_CONTEXT, NATS_CREDS, NATS_NKEY, NATS_USER, NATS_PASSWORD, NATS_TOKEN,
NATS_CERT, NATS_KEY, NATS_CA, NATS_TIMEOUT: as the flags of the same meaning, with natscli's names.
NO_COLOR turns colour off.
.SH "SEE ALSO"
nats(1), nats-server(8); ADR-49 (JetStream Distributed Counter CRDT)
`
}

// roff escapes text for a man page: backslashes, and a leading . or ' that
// would be read as a request.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}
