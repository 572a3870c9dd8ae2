package bulk

import (
	"bufio"
	"cmp"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"strconv"

	"github.com/jetcounter/counter/internal/errkind"
)

// Ids name increments: the server applies one message per id (within the
// stream's duplicate window) and acknowledges any other with that id as a
// duplicate, never applied. So two lines of one input with the same id and
// different increments would lose one of them silently: such an input is
// refused (exit 2, nothing sent). The same line twice with the same id is
// fine (it is applied once, as ids promise).
//
// Ids are tracked as fixed-size hashes, never as text, and a large input's
// are sorted in runs spilled to a temporary file and merged: memory stays
// bounded whatever the number of lines. Two different ids share both
// 64-bit hashes with a probability far below any disk error's.

// idRecord is one line with an ID column.
type idRecord struct {
	id   [2]uint64 // the id, under two seeds
	inc  uint64    // the increment: subject and delta
	line int64
}

const idRecordSize = 32

// idRunLen is how many records are sorted in memory at once (16 MiB).
const idRunLen = 1 << 19

type idHasher struct{ seeds [3]maphash.Seed }

func newIDHasher() idHasher {
	return idHasher{seeds: [3]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed(), maphash.MakeSeed()}}
}

// record hashes one line's id and increment. The increment is hashed by
// value: "+5", "5" and "0000000000000000000005" are the same increment.
func (h idHasher) record(l bulkLine, line int) idRecord {
	r := idRecord{line: int64(line)}
	r.id[0] = maphash.Bytes(h.seeds[0], l.id)
	r.id[1] = maphash.Bytes(h.seeds[1], l.id)
	var m maphash.Hash
	m.SetSeed(h.seeds[2])
	m.Write(l.subject)
	m.WriteByte(0)
	switch {
	case l.big != nil && !l.big.IsInt64():
		m.WriteString(l.big.String())
	default:
		d := l.delta
		if l.big != nil {
			d = l.big.Int64()
		}
		var b [20]byte
		m.Write(strconv.AppendInt(b[:0], d, 10))
	}
	r.inc = m.Sum64()
	return r
}

func compareIDRecords(a, b idRecord) int {
	return cmp.Or(cmp.Compare(a.id[0], b.id[0]), cmp.Compare(a.id[1], b.id[1]), cmp.Compare(a.line, b.line))
}

// idSet collects the ids of a whole input and finds the lines that reuse
// an earlier line's id for another increment.
type idSet struct {
	hash   idHasher
	runLen int
	buf    []idRecord
	spill  *tempFile // sorted runs, one after another
	w      *bufio.Writer
	runs   []int64 // records in each run
}

func newIDSet(runLen int) *idSet {
	return &idSet{hash: newIDHasher(), runLen: runLen}
}

func (s *idSet) add(l bulkLine, line int) error {
	if len(s.buf) == cap(s.buf) && len(s.buf) >= 1<<12 {
		// Grown to a run's size at once: doubling towards it would leave
		// the old arrays (as much again) for the collector.
		grown := make([]idRecord, len(s.buf), s.runLen)
		copy(grown, s.buf)
		s.buf = grown
	}
	s.buf = append(s.buf, s.hash.record(l, line))
	if len(s.buf) < s.runLen {
		return nil
	}
	return s.writeRun()
}

func (s *idSet) writeRun() error {
	if s.spill == nil {
		f, err := createTemp("counter-ids-")
		if err != nil {
			return err
		}
		s.spill, s.w = f, bufio.NewWriterSize(f, 64<<10)
	}
	slices.SortFunc(s.buf, compareIDRecords)
	var b [idRecordSize]byte
	for _, r := range s.buf {
		binary.LittleEndian.PutUint64(b[0:], r.id[0])
		binary.LittleEndian.PutUint64(b[8:], r.id[1])
		binary.LittleEndian.PutUint64(b[16:], r.inc)
		binary.LittleEndian.PutUint64(b[24:], uint64(r.line))
		if _, err := s.w.Write(b[:]); err != nil {
			return fmt.Errorf("keep the input's ids in a temporary file: %w", err)
		}
	}
	s.runs = append(s.runs, int64(len(s.buf)))
	s.buf = s.buf[:0]
	return nil
}

func (s *idSet) close() {
	if s != nil && s.spill != nil {
		s.spill.Close()
	}
}

// collisions calls found for every line whose id an earlier line has with
// another increment (first: that earlier line), in no particular order.
func (s *idSet) collisions(ctx context.Context, found func(line, first int)) error {
	if s == nil {
		return nil
	}
	var next func() (idRecord, bool, error)
	if s.spill == nil {
		slices.SortFunc(s.buf, compareIDRecords)
		i := 0
		next = func() (idRecord, bool, error) {
			if i == len(s.buf) {
				return idRecord{}, false, nil
			}
			i++
			return s.buf[i-1], true, nil
		}
	} else {
		if len(s.buf) > 0 {
			if err := s.writeRun(); err != nil {
				return err
			}
		}
		s.buf = nil
		if err := s.w.Flush(); err != nil {
			return fmt.Errorf("keep the input's ids in a temporary file: %w", err)
		}
		m, err := newRunMerger(s.spill, s.runs)
		if err != nil {
			return err
		}
		next = m.next
	}
	var (
		cur  idRecord
		have bool
	)
	for n := 0; ; n++ {
		if n&(1<<16-1) == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		r, ok, err := next()
		if err != nil {
			return err
		}
		if !ok {
			s.buf = nil // sending needs none of it
			return nil
		}
		if have && r.id == cur.id {
			if r.inc != cur.inc {
				found(int(r.line), int(cur.line))
			}
			continue
		}
		cur, have = r, true
	}
}

// runMerger merges sorted runs of records from one file.
type runMerger struct {
	heads []mergeHead
}

type mergeHead struct {
	r   *bufio.Reader
	rec idRecord
	b   *[idRecordSize]byte
}

func newRunMerger(f io.ReaderAt, runs []int64) (*runMerger, error) {
	m := &runMerger{}
	var off int64
	for _, n := range runs {
		size := n * idRecordSize
		h := mergeHead{r: bufio.NewReaderSize(io.NewSectionReader(f, off, size), 32<<10), b: new([idRecordSize]byte)}
		off += size
		ok, err := h.read()
		if err != nil {
			return nil, err
		}
		if ok {
			m.heads = append(m.heads, h)
		}
	}
	heap.Init(m)
	return m, nil
}

func (h *mergeHead) read() (bool, error) {
	b := h.b
	if _, err := io.ReadFull(h.r, b[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, fmt.Errorf("read back the input's ids: %w", err)
	}
	h.rec = idRecord{
		id:   [2]uint64{binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])},
		inc:  binary.LittleEndian.Uint64(b[16:]),
		line: int64(binary.LittleEndian.Uint64(b[24:])),
	}
	return true, nil
}

func (m *runMerger) next() (idRecord, bool, error) {
	if len(m.heads) == 0 {
		return idRecord{}, false, nil
	}
	rec := m.heads[0].rec
	ok, err := m.heads[0].read()
	if err != nil {
		return rec, false, err
	}
	if ok {
		heap.Fix(m, 0)
	} else {
		heap.Pop(m)
	}
	return rec, true, nil
}

func (m *runMerger) Len() int           { return len(m.heads) }
func (m *runMerger) Less(i, j int) bool { return compareIDRecords(m.heads[i].rec, m.heads[j].rec) < 0 }
func (m *runMerger) Swap(i, j int)      { m.heads[i], m.heads[j] = m.heads[j], m.heads[i] }
func (m *runMerger) Push(x any)         { m.heads = append(m.heads, x.(mergeHead)) }
func (m *runMerger) Pop() any {
	h := m.heads[len(m.heads)-1]
	m.heads = m.heads[:len(m.heads)-1]
	return h
}

// recentIDs is the id check of a --follow run, which may last for days: the
// last recentIDsLen ids are kept (hashed), and a line reusing one of them
// for another increment is skipped as a bad line.
const recentIDsLen = 1 << 16

type recentIDs struct {
	hash idHasher
	ring []idRecord
	next int
	byID map[[2]uint64]idRecord
}

func newRecentIDs() *recentIDs {
	return &recentIDs{hash: newIDHasher(), byID: map[[2]uint64]idRecord{}}
}

// check returns the earlier line whose id l reuses for another increment
// (0: none), and remembers l's id.
func (r *recentIDs) check(l bulkLine, line int) int {
	rec := r.hash.record(l, line)
	if prev, ok := r.byID[rec.id]; ok {
		if prev.inc != rec.inc {
			return int(prev.line)
		}
		return 0 // the same increment again: the server applies it once
	}
	if len(r.ring) < recentIDsLen {
		r.ring = append(r.ring, rec)
	} else {
		old := r.ring[r.next]
		if cur, ok := r.byID[old.id]; ok && cur.line == old.line {
			delete(r.byID, old.id)
		}
		r.ring[r.next] = rec
		r.next = (r.next + 1) % recentIDsLen
	}
	r.byID[rec.id] = rec
	return 0
}

// idCollision says why a line with a reused id is refused.
func idCollision(first int) error {
	return errkind.Invalidf("its id is also the id of line %d, which is another increment: the server would apply one and drop the other as a duplicate; give each increment its own id", first)
}

// generatedID reports whether id has the form --id-prefix gives a line
// (PREFIX:N): an ID column of that form could be another line's id.
func generatedID(id []byte, prefix string) bool {
	if prefix == "" || len(id) <= len(prefix)+1 || string(id[:len(prefix)]) != prefix || id[len(prefix)] != ':' {
		return false
	}
	for _, c := range id[len(prefix)+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
