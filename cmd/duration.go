package cmd

import (
	"time"

	"github.com/choria-io/fisk"
	"github.com/jetcounter/counter/internal/errkind"
)

// durationValue is a duration flag whose error names the flag and the value,
// as --timeout's does: fisk's own says only "invalid duration". It parses
// as fisk does (5s, 500ms, 7d).
type durationValue struct {
	flag string
	d    *time.Duration
}

func (v *durationValue) Set(s string) error {
	d, err := fisk.ParseDuration(s)
	if err != nil {
		return errkind.Invalidf("%s %q is not a duration: give a number with a unit, such as 5s or 500ms", v.flag, s)
	}
	*v.d = d
	return nil
}

func (v *durationValue) String() string { return v.d.String() }

// durationVar binds a duration flag to target; flag is how errors name it.
func durationVar(f *fisk.FlagClause, flag string, target *time.Duration) {
	f.SetValue(&durationValue{flag: flag, d: target})
}
