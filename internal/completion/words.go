// Package completion lists what shell completion offers: the streams that
// carry counter values (by the kernel's one rule) and their subjects.
package completion

import (
	"context"
	"slices"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/topology"
	"github.com/nats-io/nats.go/jetstream"
)

// Words lists, for shell completion, the counter streams and
// their counter subjects: every subject while there are at most
// maxSubjects in all, and each stream's subject patterns always. Errors
// end the listing early: what was found is returned.
func Words(ctx context.Context, c *counters.Client, maxSubjects int) (streams, subjects []string) {
	lister := c.JetStream().ListStreams(ctx)
	var all []*jetstream.StreamInfo
	for info := range lister.Info() {
		all = append(all, info)
	}
	// What a read can name: counter streams and mirrors of them (get
	// --stream works on both), judged by the one rule, with the mirror's
	// origin looked up in the same listing.
	nodes := map[string]*topology.Node{}
	for _, info := range all {
		nodes[info.Config.Name] = counters.StreamNode(&info.Config)
	}
	var infos []*jetstream.StreamInfo
	for _, info := range all {
		carries := topology.CarriesCounterValues(nodes[info.Config.Name], func(e topology.Edge) *topology.Node {
			if e.APIPrefix != "" {
				return nil // another domain: not in this listing
			}
			return nodes[e.Upstream]
		})
		if carries {
			infos = append(infos, info)
			if counters.ValidName("stream", info.Config.Name) == nil {
				streams = append(streams, info.Config.Name)
			}
		}
	}
	budget := maxSubjects
	for _, info := range infos {
		subjects = append(subjects, info.Config.Subjects...)
		if info.State.NumSubjects == 0 || int(info.State.NumSubjects) > budget {
			continue
		}
		s, err := c.JetStream().Stream(ctx, info.Config.Name)
		if err != nil {
			break
		}
		full, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
		if err != nil {
			break
		}
		for subj := range full.State.Subjects {
			// A subject another client wrote with control characters would
			// reach the shell's line and the terminal raw; counter refuses
			// it as an argument anyway.
			if counters.ValidSubject(subj, true) == nil {
				subjects = append(subjects, subj)
			}
			budget--
		}
	}
	slices.Sort(streams)
	slices.Sort(subjects)
	return streams, slices.Compact(subjects)
}
