package cmd

import (
	"context"
	"fmt"

	"github.com/jetcounter/counter/internal/counters"
)

func addCreate(a *app) {
	var (
		spec    counters.StreamSpec
		sources []string
		dryRun  bool
		force   bool
		asJSON  bool
	)
	c := a.fisk.Command("create", "Create a counter stream, or an aggregate tier that sums other counter streams")
	c.Arg("name", "Stream name").Required().StringVar(&spec.Name)
	c.Flag("subjects", "Subjects the stream holds counters for (repeatable)").PlaceHolder("SUBJECT").StringsVar(&spec.Subjects)
	c.Flag("source", "Source STREAM[@DOMAIN][:FROM[:TO]]: FROM filters, FROM:TO renames into this tier (repeatable)").PlaceHolder("SPEC").StringsVar(&sources)
	c.Flag("replicas", "Number of replicas").Default("1").IntVar(&spec.Replicas)
	c.Flag("storage", "Storage type").Default("file").EnumVar(&spec.Storage, "file", "memory")
	c.Flag("cluster", "Place the stream in this cluster").PlaceHolder("CLUSTER").StringVar(&spec.Cluster)
	c.Flag("tag", "Place the stream on servers with this tag (repeatable)").PlaceHolder("TAG").StringsVar(&spec.Tags)
	c.Flag("description", "Stream description").PlaceHolder("TEXT").StringVar(&spec.Description)
	c.Flag("history", "Messages kept per counter (default unlimited; 1 keeps only the total)").PlaceHolder("N").Int64Var(&spec.History)
	c.Flag("dry-run", "Print the configuration that would be sent; change nothing").UnNegatableBoolVar(&dryRun)
	c.Flag("force", "Create even with a source that is missing or not a counter stream").UnNegatableBoolVar(&force)
	c.Flag("json", "Print the result as JSON").UnNegatableBoolVar(&asJSON)
	c.Cheat("create", `# a counter stream for two regions
counter create DE --subjects 'count.de.>'
counter create PL --subjects 'count.pl.>'
# an aggregate that sums both into count.eu.> (its own --subjects let it take
# direct increments and resets)
counter create EU --subjects 'count.eu.>' --source 'DE:count.de.>:count.eu.>' --source 'PL:count.pl.>:count.eu.>'`)

	a.verbs["create"] = func(ctx context.Context) error {
		spec.Sources = spec.Sources[:0]
		for _, s := range sources {
			src, err := counters.ParseSourceSpec(s)
			if err != nil {
				return err
			}
			spec.Sources = append(spec.Sources, src)
		}
		if _, err := spec.Config(); err != nil {
			return err
		}
		client, err := a.conn.connect(ctx, false)
		if err != nil {
			return err
		}
		defer client.Conn().Close()
		res, err := client.Create(ctx, spec, counters.CreateOptions{DryRun: dryRun, Force: force})
		if err != nil {
			return err
		}
		for _, w := range res.Warnings {
			fmt.Fprintln(a.env.Stderr, "counter: warning: "+w)
		}
		return a.printer(asJSON).Create(res, dryRun)
	}
}
