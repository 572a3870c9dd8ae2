//go:build !race

package counters_test

// raceEnabled: see race_test.go.
const raceEnabled = false
