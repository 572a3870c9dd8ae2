package tiers

import (
	"context"
	"fmt"
	"math/big"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/topology"
)

// incrOverhead is what an increment's stored message holds besides the
// value's digits: the {"val":""} body and a small Nats-Incr header.
const incrOverhead = 48

// SizeLimits reports counters at or near their stream's max_msg_size: the
// limit covers the whole stored message, so a value grows into it and then
// refuses every increment, even +1 (an error at the limit, a warning from
// 90% of it). Only streams with a max_msg_size are read (create sets none);
// the server's max_payload (about a million digits) is left to incr's
// refusal, which names it.
func SizeLimits(ctx context.Context, c *counters.Client, g *topology.Graph, problems []topology.Problem) []topology.Problem {
	for _, n := range g.Nodes() {
		if !n.Counter || n.Config == nil || n.Config.MaxMsgSize <= 0 {
			continue
		}
		limit := int(n.Config.MaxMsgSize)
		ctrs, err := c.ReadTier(ctx, n, ">")
		if err != nil {
			continue // what cannot be read is said by the other checks
		}
		for _, ctr := range ctrs {
			// Fewer than 1,000 digits: estimate from the bit length first.
			digits := ctr.Value.BitLen()*30103/100000 + 1
			if digits*10 < (limit-incrOverhead)*8 {
				continue
			}
			digits = len(new(big.Int).Abs(ctr.Value).String())
			size := digits + incrOverhead
			sev, what := topology.SeverityWarning, "is near"
			if size+1 > limit {
				sev, what = topology.SeverityError, "has reached"
			}
			if size*10 < limit*9 {
				continue
			}
			problems = append(problems, topology.Problem{
				Severity: sev, Code: topology.CodeSizeLimit, Stream: n.ID,
				Message: fmt.Sprintf("counter %s in %s %s the stream's max_msg_size of %d bytes (%d digits): a value at the limit refuses every increment, even +1", ctr.Subject, n.ID, what, limit, digits),
				Fix:     fmt.Sprintf("raise or remove max_msg_size ('counter create %s … --update' removes it), or reset %s", n.Name, ctr.Subject),
			})
		}
	}
	topology.SortProblems(problems)
	return problems
}
