package cmd

import (
	"context"
	"math/big"

	"github.com/jetcounter/counter/internal/counters"
)

// decr is incr with the delta's sign turned: the redis-cli and natscli
// habit (`decr hits 5`). It goes through the same path as incr.
func addDecr(a *app) {
	var subject, amount, id string
	var asJSON bool
	c := a.fisk.Command("decr", "Subtract an amount (default 1) from a counter and print its new total (incr with the sign turned)").Alias("decrement")
	c.Arg("subject", "Counter subject (no wildcards)").Required().StringVar(&subject)
	c.Arg("amount", "Whole number of any size to subtract, e.g. 5 (default 1); a negative amount adds").Default("1").StringVar(&amount)
	c.Flag("id", "Message id: the server applies a change with the same id only once").PlaceHolder("ID").StringVar(&id)
	c.Flag("json", "Print the result as JSON (values and deltas are strings)").UnNegatableBoolVar(&asJSON)
	c.Cheat("decr", `# subtract one
counter decr stock.widgets
# subtract any amount (the same as counter incr stock.widgets -5)
counter decr stock.widgets 5`)

	a.verbs["decr"] = func(ctx context.Context) error {
		d, err := counters.ParseDelta(amount)
		if err != nil {
			return err
		}
		return a.incr(ctx, subject, new(big.Int).Neg(d), id, asJSON)
	}
}
