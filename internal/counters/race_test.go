//go:build race

package counters_test

// raceEnabled: the race detector is on, and it slows everything down by
// an amount no bound on a duration can allow for. Tests skip their timing
// assertions then, and only those.
const raceEnabled = true
