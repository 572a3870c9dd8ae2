package render

import (
	"bufio"
	"cmp"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jetcounter/counter/internal/natsort"
	"github.com/jetcounter/counter/internal/tiers"
	"github.com/jetcounter/counter/internal/topology"
)

// Topology formats.
const (
	FormatTree    = "tree"
	FormatTable   = "table"
	FormatJSON    = "json"
	FormatDot     = "dot"
	FormatMermaid = "mermaid"
)

// TopologyJSON is `counter topology --json`.
type TopologyJSON struct {
	Streams  []StreamJSON  `json:"streams"`
	Problems []ProblemJSON `json:"problems"`
}

// StreamJSON is one stream (node) of the topology.
type StreamJSON struct {
	Name        string       `json:"name"`
	Domain      string       `json:"domain,omitempty"`
	ID          string       `json:"id"`
	Found       bool         `json:"found"`
	Unreachable bool         `json:"unreachable,omitempty"`
	Counter     bool         `json:"counter"`
	AllowDirect bool         `json:"allow_direct"`
	Subjects    []string     `json:"subjects"`
	Replicas    int          `json:"replicas,omitempty"`
	Storage     string       `json:"storage,omitempty"`
	Counters    uint64       `json:"counters"` // subjects holding a value
	Sources     []SourceJSON `json:"sources"`
	Mirror      *SourceJSON  `json:"mirror"`
	// CounterValues: its messages carry counter values (a counter stream,
	// or a mirror of one, which an aggregate may source).
	CounterValues bool `json:"counter_values"`
}

// SourceJSON is one source or mirror edge.
type SourceJSON struct {
	Name       string          `json:"name"`
	Domain     string          `json:"domain,omitempty"`
	ID         string          `json:"id"`
	Filter     string          `json:"filter,omitempty"`
	Transforms []TransformJSON `json:"transforms"`
	APIPrefix  string          `json:"api_prefix,omitempty"`
	Lag        uint64          `json:"lag"`
	// ActiveMS is the time since the source was last heard from; null
	// when the server does not know.
	ActiveMS *int64 `json:"active_ms"`
	Error    string `json:"error,omitempty"`
}

// TransformJSON is one subject transform of a source.
type TransformJSON struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// ProblemJSON is one hazard from --check.
type ProblemJSON struct {
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Stream   string `json:"stream"`
	Message  string `json:"message"`
	Fix      string `json:"fix"`
}

func topologyJSON(g *topology.Graph, problems []topology.Problem) TopologyJSON {
	out := TopologyJSON{Streams: []StreamJSON{}, Problems: problemsJSON(problems)}
	for _, n := range g.Nodes() {
		s := StreamJSON{
			Name: n.Name, Domain: n.Domain, ID: n.ID, Found: n.Config != nil, Unreachable: n.Unreachable,
			Counter: n.Counter, CounterValues: g.CarriesCounterValues(n.ID), AllowDirect: n.AllowDirect,
			Subjects: nonNil(n.Subjects), Sources: []SourceJSON{},
		}
		if n.Config != nil {
			s.Replicas = max(n.Config.Replicas, 1)
			s.Storage = strings.ToLower(n.Config.Storage.String())
		}
		if n.State != nil {
			s.Counters = n.State.NumSubjects
		}
		for _, e := range n.Sources {
			up := g.Node(e.Upstream)
			sj := SourceJSON{
				Name: up.Name, Domain: up.Domain, ID: up.ID, Filter: e.Filter,
				Transforms: []TransformJSON{}, APIPrefix: e.APIPrefix, Lag: e.Lag, Error: e.Error,
			}
			for _, t := range e.Transforms {
				sj.Transforms = append(sj.Transforms, TransformJSON{From: t.From, To: t.To})
			}
			if e.Active >= 0 {
				ms := e.Active.Milliseconds()
				sj.ActiveMS = &ms
			}
			if e.Mirror {
				s.Mirror = &sj
			} else {
				s.Sources = append(s.Sources, sj)
			}
		}
		out.Streams = append(out.Streams, s)
	}
	return out
}

func problemsJSON(problems []topology.Problem) []ProblemJSON {
	out := make([]ProblemJSON, 0, len(problems))
	for _, p := range problems {
		out = append(out, ProblemJSON(p))
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Topology prints the graph in format (tree, table, json, dot, mermaid).
// problems go into the JSON; the tree ends with a count of them.
func (p Printer) Topology(g *topology.Graph, problems []topology.Problem, format string) error {
	switch format {
	case FormatJSON:
		return p.WriteJSON(topologyJSON(g, problems))
	case FormatDot:
		return p.text(Dot(g))
	case FormatMermaid:
		return p.text(Mermaid(g))
	case FormatTable:
		return p.topologyTable(g)
	default:
		out := Tree(g)
		errs, warns := count(problems)
		if errs+warns > 0 {
			out += fmt.Sprintf("\n%s, %s: see counter topology --check\n", Count(errs, "error"), Count(warns, "warning"))
		}
		return p.text(out)
	}
}

func (p Printer) text(s string) error {
	if p.TTY {
		s = visibleLines(s)
	}
	bw := bufio.NewWriter(p.W)
	bw.WriteString(s)
	return bw.Flush()
}

func count(problems []topology.Problem) (errs, warns int) {
	for _, pr := range problems {
		if pr.Severity == topology.SeverityError {
			errs++
		} else {
			warns++
		}
	}
	return errs, warns
}

// Count says "1 error", "2 errors".
func Count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// Mapping describes which subjects an edge carries and how it renames them.
func Mapping(e topology.Edge) string {
	switch {
	case len(e.Transforms) > 0:
		parts := make([]string, len(e.Transforms))
		for i, t := range e.Transforms {
			from, to := t.From, t.To
			if from == "" {
				from = ">"
			}
			if to == "" {
				parts[i] = from
				continue
			}
			parts[i] = from + " → " + to
		}
		return strings.Join(parts, ", ")
	case e.Filter != "":
		return e.Filter
	default:
		return "all subjects"
	}
}

// plainKind names a stream that is not a counter stream.
func plainKind(g *topology.Graph, n *topology.Node) string {
	if g.CarriesCounterValues(n.ID) {
		return "mirror of counters"
	}
	return "plain stream"
}

// missingWhy says why a stream only known as a source has no configuration:
// its domain did not answer, it could not be looked up, or it is not there.
func missingWhy(n *topology.Node) string {
	switch {
	case n.Unreachable:
		return "unreachable"
	case n.LookupError != "":
		return "could not be looked up"
	}
	return "not found"
}

func describeNode(g *topology.Graph, n *topology.Node) string {
	if n.Config == nil {
		return missingWhy(n)
	}
	kind, values := "counter", true
	if !n.Counter {
		kind = plainKind(g, n)
		values = g.CarriesCounterValues(n.ID)
	}
	parts := []string{kind}
	if len(n.Subjects) > 0 {
		parts = append(parts, "subjects "+strings.Join(n.Subjects, " "))
	}
	parts = append(parts, fmt.Sprintf("R%d %s", max(n.Config.Replicas, 1), strings.ToLower(n.Config.Storage.String())))
	if n.State != nil {
		parts = append(parts, Count(int(n.State.NumSubjects), map[bool]string{true: "counter", false: "subject"}[values]))
	}
	if n.Counter && !n.AllowDirect {
		parts = append(parts, "allow_direct off")
	}
	return strings.Join(parts, ", ")
}

func describeEdge(e topology.Edge) string {
	kind := "source"
	if e.Mirror {
		kind = "mirror"
	}
	parts := []string{kind + " " + Mapping(e)}
	if e.APIPrefix != "" {
		parts = append(parts, "via "+e.APIPrefix)
	}
	parts = append(parts, fmt.Sprintf("lag %d", e.Lag))
	parts = append(parts, "active "+activeText(e.Active))
	if e.Error != "" {
		parts = append(parts, "error: "+e.Error)
	}
	return strings.Join(parts, ", ")
}

func activeText(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.Round(time.Second).String() + " ago"
}

// Tree draws each root (a stream nothing reads) with its sources below it,
// recursively; a stream reached twice (a diamond) is drawn under both, and
// a cycle is marked where it closes.
func Tree(g *topology.Graph) string {
	var b strings.Builder
	shown := map[string]bool{}
	var walk func(n *topology.Node, prefix string, path map[string]bool)
	walk = func(n *topology.Node, prefix string, path map[string]bool) {
		shown[n.ID] = true
		path[n.ID] = true
		defer delete(path, n.ID)
		for i, e := range n.Sources {
			up := g.Node(e.Upstream)
			branch, cont := "├─ ", "│  "
			if i == len(n.Sources)-1 {
				branch, cont = "└─ ", "   "
			}
			fmt.Fprintf(&b, "%s%s%s  %s\n", prefix, branch, up.ID, describeNode(g, up))
			fmt.Fprintf(&b, "%s%s   %s\n", prefix, cont, describeEdge(e))
			if path[up.ID] {
				fmt.Fprintf(&b, "%s%s   ↺ cycle: %s is already above\n", prefix, cont, up.ID)
				continue
			}
			walk(up, prefix+cont, path)
		}
	}
	root := func(n *topology.Node) {
		fmt.Fprintf(&b, "%s  %s\n", n.ID, describeNode(g, n))
		walk(n, "", map[string]bool{})
	}
	for _, r := range g.Roots() {
		root(r)
	}
	// Streams only in cycles have no root above them: start at the first.
	for _, n := range g.Nodes() {
		if !shown[n.ID] {
			root(n)
		}
	}
	return b.String()
}

func (p Printer) topologyTable(g *topology.Graph) error {
	header := []string{"STREAM", "COUNTER", "SUBJECTS", "SOURCE", "KIND", "MAPPING", "LAG", "ACTIVE", "ERROR"}
	var rows [][]string
	for _, n := range g.Nodes() {
		counter := "no"
		switch {
		case n.Config == nil:
			counter = missingWhy(n)
		case n.Counter:
			counter = "yes"
		}
		subjects := strings.Join(n.Subjects, " ")
		if subjects == "" {
			subjects = "-"
		}
		if len(n.Sources) == 0 {
			rows = append(rows, []string{n.ID, counter, subjects, "-", "-", "-", "-", "-", "-"})
		}
		for _, e := range n.Sources {
			kind := "source"
			if e.Mirror {
				kind = "mirror"
			}
			errText := e.Error
			if errText == "" {
				errText = "-"
			}
			rows = append(rows, []string{n.ID, counter, subjects, e.Upstream, kind, Mapping(e), strconv.FormatUint(e.Lag, 10), activeText(e.Active), errText})
		}
	}
	return p.Table(header, rows, 6)
}

// Dot renders the graph as a Graphviz digraph; edges point the way data
// flows, from a source up to the stream that reads it.
func Dot(g *topology.Graph) string {
	var b strings.Builder
	b.WriteString("digraph topology {\n  rankdir=BT;\n  node [shape=box];\n")
	for _, n := range g.Nodes() {
		label := n.ID
		if len(n.Subjects) > 0 {
			label += "\n" + strings.Join(n.Subjects, " ")
		}
		var attrs []string
		switch {
		case n.Config == nil:
			label += "\n" + missingWhy(n)
			attrs = append(attrs, "style=dotted")
		case !n.Counter:
			label += "\n" + plainKind(g, n)
			attrs = append(attrs, "style=dashed")
		}
		attrs = append([]string{"label=" + dotQuote(label)}, attrs...)
		fmt.Fprintf(&b, "  %s [%s];\n", dotQuote(n.ID), strings.Join(attrs, ", "))
	}
	for _, n := range g.Nodes() {
		for _, e := range n.Sources {
			label := Mapping(e)
			var attrs []string
			if e.Mirror {
				label = "mirror"
				attrs = append(attrs, "style=dashed")
			}
			if e.Error != "" {
				attrs = append(attrs, "color=red")
			}
			attrs = append([]string{"label=" + dotQuote(label)}, attrs...)
			fmt.Fprintf(&b, "  %s -> %s [%s];\n", dotQuote(e.Upstream), dotQuote(n.ID), strings.Join(attrs, ", "))
		}
	}
	b.WriteString("}\n")
	return b.String()
}

func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// Mermaid renders the graph as a mermaid flowchart, sources below the
// streams that read them.
func Mermaid(g *topology.Graph) string {
	var b strings.Builder
	b.WriteString("flowchart BT\n")
	ids := map[string]string{}
	var plain, missing []string
	for i, n := range g.Nodes() {
		id := "s" + strconv.Itoa(i)
		ids[n.ID] = id
		label := n.ID
		if len(n.Subjects) > 0 {
			label += "<br/>" + strings.Join(n.Subjects, " ")
		}
		switch {
		case n.Config == nil:
			label += "<br/>" + missingWhy(n)
			missing = append(missing, id)
		case !n.Counter:
			label += "<br/>" + plainKind(g, n)
			plain = append(plain, id)
		}
		fmt.Fprintf(&b, "  %s[%s]\n", id, mermaidQuote(label))
	}
	for _, n := range g.Nodes() {
		for _, e := range n.Sources {
			if e.Mirror {
				fmt.Fprintf(&b, "  %s -.->|mirror| %s\n", ids[e.Upstream], ids[n.ID])
				continue
			}
			fmt.Fprintf(&b, "  %s -->|%s| %s\n", ids[e.Upstream], mermaidQuote(Mapping(e)), ids[n.ID])
		}
	}
	if len(plain) > 0 {
		fmt.Fprintf(&b, "  classDef plain stroke-dasharray: 5 5\n  class %s plain\n", strings.Join(plain, ","))
	}
	if len(missing) > 0 {
		fmt.Fprintf(&b, "  classDef missing stroke-dasharray: 2 2,color:#999\n  class %s missing\n", strings.Join(missing, ","))
	}
	return b.String()
}

// mermaidQuote makes a label safe inside a mermaid node or edge: quoted,
// with '"' as an entity.
func mermaidQuote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, "#quot;") + `"`
}

// Problems prints the hazards --check found: a table on a terminal
// (with a line when there are none), tab-separated rows for a pipe.
func (p Printer) Problems(problems []topology.Problem, streams int) error {
	if p.JSON {
		errs, warns := count(problems)
		return p.WriteJSON(struct {
			Streams  int           `json:"streams"`
			Errors   int           `json:"errors"`
			Warnings int           `json:"warnings"`
			Problems []ProblemJSON `json:"problems"`
		}{streams, errs, warns, problemsJSON(problems)})
	}
	if len(problems) == 0 {
		if p.TTY {
			return p.Line(fmt.Sprintf("no problems in %s", Count(streams, "stream")))
		}
		return nil
	}
	rows := make([][]string, len(problems))
	for i, pr := range problems {
		rows[i] = []string{pr.Severity, pr.Code, pr.Stream, pr.Message, pr.Fix}
	}
	return p.Table([]string{"SEVERITY", "CODE", "STREAM", "PROBLEM", "FIX"}, rows)
}

// TiersJSON is `counter topology --subject S --json`.
type TiersJSON struct {
	Subject string     `json:"subject"`
	Path    []TierJSON `json:"path"`
}

// TierJSON is one tier a counter reaches. Values are strings.
type TierJSON struct {
	Stream  string           `json:"stream"`
	Subject string           `json:"subject"`
	Depth   int              `json:"depth"`
	Value   *string          `json:"value"`
	Updated string           `json:"updated,omitempty"`
	Direct  *string          `json:"direct,omitempty"`
	Sources []TierSourceJSON `json:"sources,omitempty"`
	Error   string           `json:"error,omitempty"`
	Warning string           `json:"warning,omitempty"`
}

// TierSourceJSON is one source's last contribution to an aggregate.
type TierSourceJSON struct {
	Key      string  `json:"key"`
	Stream   string  `json:"stream,omitempty"`
	Subject  string  `json:"subject"`
	LastSeen string  `json:"last_seen"`
	Current  *string `json:"current"`
	Behind   bool    `json:"behind"`
}

func strPtr(v *big.Int) *string {
	if v == nil {
		return nil
	}
	s := v.String()
	return &s
}

// Tiers prints a counter followed through its tiers: sources first, then
// the subject asked for (depth 0), then the aggregates above.
func (p Printer) Tiers(subject string, tiers []tiers.Tier) error {
	tiers = tiersInOrder(tiers)
	if p.JSON {
		out := TiersJSON{Subject: subject, Path: make([]TierJSON, 0, len(tiers))}
		for _, t := range tiers {
			tj := TierJSON{Stream: t.Stream, Subject: t.Subject, Depth: t.Depth, Value: strPtr(t.Value), Direct: strPtr(t.Direct), Error: t.Error, Warning: t.Warning}
			if !t.Updated.IsZero() {
				tj.Updated = t.Updated.UTC().Format(time.RFC3339Nano)
			}
			for _, s := range t.Sources {
				tj.Sources = append(tj.Sources, TierSourceJSON{Key: s.Key, Stream: s.Stream, Subject: s.Subject, LastSeen: s.LastSeen.String(), Current: strPtr(s.Current), Behind: s.Behind})
			}
			out.Path = append(out.Path, tj)
		}
		return p.WriteJSON(out)
	}
	rows := make([][]string, 0, len(tiers))
	for _, t := range tiers {
		value := "-"
		switch {
		case t.Error != "":
			value = "error: " + t.Error
		case t.Value != nil:
			value = t.Value.String()
		}
		from := "-"
		if t.Direct != nil {
			parts := []string{"direct " + t.Direct.String()}
			for _, s := range t.Sources {
				name := s.Stream
				if name == "" {
					name = s.Key + " (no such source now)"
				}
				part := fmt.Sprintf("%s %s=%s", name, s.Subject, s.LastSeen)
				if s.Behind {
					part += fmt.Sprintf(" (behind: now %s)", s.Current)
				}
				parts = append(parts, part)
			}
			from = strings.Join(parts, "; ")
		}
		if t.Warning != "" {
			from = "warning: " + t.Warning
		}
		rows = append(rows, []string{strconv.Itoa(t.Depth), t.Stream, t.Subject, value, from})
	}
	return p.Table([]string{"TIER", "STREAM", "SUBJECT", "VALUE", "FROM"}, rows, 0, 3)
}

// tiersInOrder is tiers by depth, and within a depth in natural order of
// stream then subject (DE, FR, PL; c2 before c10), each aggregate's sources
// too: the order every other list of counter shows, not the order the
// sources happen to be configured in.
func tiersInOrder(list []tiers.Tier) []tiers.Tier {
	out := slices.Clone(list)
	slices.SortStableFunc(out, func(a, b tiers.Tier) int {
		return cmp.Or(cmp.Compare(a.Depth, b.Depth), natsort.Compare(a.Stream, b.Stream), natsort.Compare(a.Subject, b.Subject))
	})
	for i := range out {
		srcs := slices.Clone(out[i].Sources)
		slices.SortStableFunc(srcs, func(a, b tiers.TierSource) int {
			return cmp.Or(natsort.Compare(a.Key, b.Key), natsort.Compare(a.Subject, b.Subject))
		})
		out[i].Sources = srcs
	}
	return out
}
