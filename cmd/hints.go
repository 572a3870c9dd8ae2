package cmd

import (
	"context"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/jetcounter/counter/internal/completion"
	"github.com/jetcounter/counter/internal/terminal"
)

// hintTimeout bounds what completing a word may cost: a shell must never
// hang on <TAB> because a server is slow or gone.
const hintTimeout = time.Second

// hintMaxSubjects caps the counter subjects offered: beyond that the
// streams' subject patterns are offered instead.
const hintMaxSubjects = 1000

// hintedVerbs complete their argument dynamically (counter subjects; cheat: verbs);
// hintedFlags complete with stream names or subjects.
var (
	hintedVerbs = []string{"get", "watch", "reset", "incr", "decr", "cheat"}
	hintedFlags = []string{"stream", "subject", "source"}
)

// addHints lets shell completion offer stream names and counter subjects,
// asked of the server (through the same connection flags, context and
// variables) with a short timeout; nothing is offered when it cannot be
// reached. It is called once every verb is registered.
func addHints(a *app) {
	h := &hints{a: a}
	for _, verb := range hintedVerbs {
		if c := a.fisk.GetCommand(verb); c != nil {
			if arg := c.GetArg("subject"); arg != nil {
				arg.HintAction(h.subjects)
			}
			if f := c.GetFlag("stream"); f != nil {
				f.HintAction(h.streams)
			}
		}
	}
	if c := a.fisk.GetCommand("topology"); c != nil {
		if f := c.GetFlag("subject"); f != nil {
			f.HintAction(h.subjects)
		}
	}
	if c := a.fisk.GetCommand("create"); c != nil {
		if f := c.GetFlag("source"); f != nil {
			f.HintAction(h.streams)
		}
	}
}

type hints struct {
	a    *app
	once sync.Once
	// What the server said: fisk asks twice per completion.
	streamNames, subjectList []string
}

func (h *hints) streams() []string  { h.once.Do(h.load); return h.streamNames }
func (h *hints) subjects() []string { h.once.Do(h.load); return h.subjectList }

func (h *hints) load() {
	// fisk also resolves hints when it builds its model (help, errors,
	// man page, fish script): only a shell asking for completions may
	// reach a server.
	if !slices.Contains(os.Args, "--completion-bash") {
		return
	}
	opts := h.a.conn.opts
	if d, err := opts.ParseTimeout(); err != nil || d > hintTimeout {
		opts.Timeout = hintTimeout.String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*hintTimeout)
	defer cancel()
	client, err := h.a.conn.connectWith(ctx, opts, false)
	if err != nil {
		return
	}
	defer client.Conn().Close()
	streams, subjects := completion.Words(ctx, client, hintMaxSubjects)
	h.streamNames, h.subjectList = shownWords(streams), shownWords(subjects)
}

// shownWords leaves out every word that terminal.Visible would change: fisk
// prints completion words itself, raw, and the shell shows them on the
// terminal. A stream's subject pattern chosen by another client may hold
// ESC; counter refuses such a subject as an argument anyway.
func shownWords(words []string) []string {
	return slices.DeleteFunc(words, func(w string) bool { return terminal.Visible(w) != w })
}
