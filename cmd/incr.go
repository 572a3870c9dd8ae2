package cmd

import (
	"context"
	"math/big"

	"github.com/jetcounter/counter/internal/counters"
	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/internal/tiers"
)

func addIncr(a *app) {
	var subject, delta, id string
	var asJSON, subjectSet bool
	c := a.fisk.Command("incr", "Add a signed delta (default +1) to a counter and print its new total").Alias("add")
	c.Arg("subject", "Counter subject (no wildcards), or - to read increments from stdin").IsSetByUser(&subjectSet).StringVar(&subject)
	c.Arg("delta", "Signed whole number of any size, e.g. 5, +5, -5 (default +1)").Default("+1").StringVar(&delta)
	c.Flag("id", "Message id: the server applies an increment with the same id only once").PlaceHolder("ID").StringVar(&id)
	c.Flag("json", "Print the result as JSON (values and deltas are strings)").UnNegatableBoolVar(&asJSON)
	bulk := addIncrBulkFlags(c)
	c.Cheat("incr", `# add one
counter incr hits
# add or subtract any amount
counter incr hits 5
counter incr hits -5
# retry-safe: the same --id is applied once
counter incr orders.paid 1 --id order-7781
# many increments, one per line: SUBJECT [DELTA] [ID]
counter incr - < events.txt
counter incr --file events.txt --id-prefix import-2024-06-01
tail -f access.log | awk '{print "hits." $7}' | counter incr - --follow`)

	a.verbs["incr"] = func(ctx context.Context) error {
		if subject == "-" || bulk.used() {
			return a.incrBulk(ctx, subject, delta, id, asJSON, bulk)
		}
		if subject == "" && !subjectSet {
			return errkind.Invalidf("required argument 'subject' not provided: name a counter, or - to read increments from stdin")
		}
		d, err := counters.ParseDelta(delta)
		if err != nil {
			return err
		}
		return a.incr(ctx, subject, d, id, asJSON)
	}
}

// incr adds delta to subject and prints the new total: the one path of
// both incr and decr.
func (a *app) incr(ctx context.Context, subject string, d *big.Int, id string, asJSON bool) error {
	if err := counters.ValidPublishSubject(subject); err != nil {
		return err
	}
	client, err := a.conn.connect(ctx, false)
	if err != nil {
		return err
	}
	defer client.Conn().Close()
	// An aggregate above must be able to carry what this leads to.
	if err := tiers.CheckCarried(ctx, client, subject, d); err != nil {
		return err
	}
	res, err := client.Incr(ctx, subject, d, id)
	if err != nil {
		return err
	}
	if res.Duplicate && !asJSON {
		a.term.Notef("message id %q was already applied: counter %s not changed", id, subject)
	}
	return a.printer(asJSON).Incr(res)
}
