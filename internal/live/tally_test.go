package live

import (
	"fmt"
	"testing"
)

// TestTallyLikeBoard: the JSON lines a Tally gives are the Board's, for
// lines printed at once and for lines held for an interval: deltas from
// the previous line (of any size), repeats of a resumed stream dropped,
// the same subject in two streams two counters.
func TestTallyLikeBoard(t *testing.T) {
	big30 := "123456789012345678901234567890"
	for _, hold := range []bool{false, true} {
		tally, board := NewTally(), NewBoard(t0)
		var got, want []string
		for _, u := range []struct {
			stream, subject, value string
			seq                    uint64
		}{
			{"S", "a", big30, 1},
			{"S", "a", "123456789012345678901234567895", 2},
			{"S", "a", "123456789012345678901234567895", 2}, // resumed: the same again
			{"S", "b", "10", 3},
			{"S", "a", "7", 4},
			{"T", "a", "7", 1},
			{"S", "b", "10", 3}, // resumed
			{"S", "b", "-9223372036854775809", 5},
			{"S", "b", "-9223372036854775809", 5},
			{"S", "b", "9223372036854775807", 6},
			{"S", "a", "7", 2}, // an older message, same value
			{"S", "a", "8", 1}, // a recreated stream starts over
		} {
			l, ok := tally.Update(upd(u.stream, u.subject, u.value, u.seq), hold)
			c, changed := board.Apply(upd(u.stream, u.subject, u.value, u.seq), t0)
			if ok != changed {
				t.Fatalf("hold %v, %v: Update ok %v, Board changed %v", hold, u, ok, changed)
			}
			if !hold && ok {
				bl, _ := board.Line(c)
				got, want = append(got, lineStrings([]Line{l})...), append(want, lineStrings([]Line{bl})...)
			}
			if hold && u.seq%2 == 0 {
				got, want = append(got, lineStrings(tally.Pending())...), append(want, lineStrings(board.Lines())...)
			}
		}
		got, want = append(got, lineStrings(tally.Pending())...), append(want, lineStrings(board.Lines())...)
		if fmt.Sprint(got) != fmt.Sprint(want) || len(got) < 6 {
			t.Fatalf("hold %v: lines\n%q\nBoard's\n%q", hold, got, want)
		}
		if tally.Len() != 3 {
			t.Fatalf("Len %d, want 3", tally.Len())
		}
	}
}

// TestTallyCoalesces: held lines are one per counter, in the order the
// counters first changed, with the delta of the whole interval.
func TestTallyCoalesces(t *testing.T) {
	tally := NewTally()
	for _, u := range [][3]string{{"a", "1", "1"}, {"b", "10", "2"}, {"a", "2", "3"}, {"a", "5", "4"}} {
		tally.Update(upd("S", u[0], u[1], uint64(u[2][0]-'0')), true)
	}
	if got := fmt.Sprint(lineStrings(tally.Pending())); got != "[a 5 <nil> 4 b 10 <nil> 2]" {
		t.Fatalf("first interval %s", got)
	}
	if l := tally.Pending(); len(l) != 0 {
		t.Fatalf("nothing changed, got %v", lineStrings(l))
	}
	tally.Update(upd("S", "b", "11", 5), true)
	tally.Update(upd("S", "a", "4", 6), true)
	tally.Update(upd("S", "a", "9", 7), true)
	if got := fmt.Sprint(lineStrings(tally.Pending())); got != "[b 11 1 5 a 9 4 7]" {
		t.Fatalf("second interval %s", got)
	}
}
