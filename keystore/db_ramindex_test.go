package keystore

import (
	"bytes"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

func TestRAMIndex(t *testing.T) {
	for name, hash := range map[string]func([]byte) uint64{
		"maphash":           nil,
		"every ID collides": func([]byte) uint64 { return 7 },
	} {
		t.Run(name, func(t *testing.T) {
			x := newRAMIndex(0, 0, 0)
			if hash != nil {
				x.hash = hash
			}
			testRAMIndex(t, x)
		})
	}
}

func testRAMIndex(t *testing.T, x *ramIndex) {
	rpA, rpB := [32]byte{1}, [32]byte{2}
	id := func(i int) []byte { return []byte(fmt.Sprintf("credential-%02d", i)) }
	for i := range 10 {
		rp := rpA
		if i%2 == 1 {
			rp = rpB
		}
		if s := x.add(id(i), rp, uint64(i)); s != int32(i) {
			t.Fatalf("slot %d for the %dth credential", s, i)
		}
	}
	for i := range 10 {
		if s := x.find(id(i)); s != int32(i) || !bytes.Equal(x.id(s), id(i)) {
			t.Errorf("find %s: slot %d", id(i), s)
		}
	}
	x.remove(0) // head of nothing in particular
	x.remove(9) // most recent: head of its chains
	x.remove(4) // in the middle
	x.remove(4) // twice is harmless
	x.moveRP(3, rpA)
	wantA, wantB := []int32{2, 3, 6, 8}, []int32{1, 5, 7}
	check := func(name string, got, want []int32) {
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	check("RP A", x.ofRP(&rpA), wantA)
	check("RP B", x.ofRP(&rpB), wantB)
	check("all", x.all(), []int32{1, 2, 3, 5, 6, 7, 8})
	for _, gone := range []int{0, 4, 9} {
		if s := x.find(id(gone)); s != noSlot {
			t.Errorf("removed %s found at %d", id(gone), s)
		}
	}
	for _, i := range []int{1, 2, 3, 5, 6, 7, 8} {
		if x.find(id(i)) != int32(i) {
			t.Errorf("%s lost after removals", id(i))
		}
	}
	if x.find([]byte("unknown")) != noSlot || len(x.ofRP(&[32]byte{3})) != 0 {
		t.Error("unknown keys found")
	}
}

// TestRAMIndexAgainstMap runs random adds, removes and RP moves against a
// plain map, with hashes that collide a lot, through table growth.
func TestRAMIndexAgainstMap(t *testing.T) {
	for name, hash := range map[string]func([]byte) uint64{
		"maphash":      nil,
		"8 homes":      func(id []byte) uint64 { return uint64(id[len(id)-1] % 8) },
		"one home":     func([]byte) uint64 { return 1 << 40 },
		"top of table": func(id []byte) uint64 { return ^uint64(0) - uint64(id[len(id)-1]%3) },
	} {
		t.Run(name, func(t *testing.T) {
			x := newRAMIndex(0, 0, 0)
			if hash != nil {
				x.hash = hash
			}
			ref := map[string]int32{} // ID → slot
			rps := [][32]byte{{1}, {2}, {3}}
			rpOf := map[int32]int{}
			r := mrand.New(mrand.NewPCG(1, 2))
			for step := range 3000 {
				id := fmt.Appendf(nil, "id-%d", r.IntN(600))
				s, known := ref[string(id)]
				switch op := r.IntN(3); {
				case !known && op < 2:
					rp := r.IntN(3)
					s = x.add(id, rps[rp], uint64(step))
					ref[string(id)], rpOf[s] = s, rp
				case known && op == 0:
					x.remove(s)
					delete(ref, string(id))
				case known:
					rp := r.IntN(3)
					x.moveRP(s, rps[rp])
					rpOf[s] = rp
				}
				if step%100 == 0 {
					checkRAMIndex(t, x, ref, rpOf, rps)
				}
			}
			checkRAMIndex(t, x, ref, rpOf, rps)
		})
	}
}

func checkRAMIndex(t *testing.T, x *ramIndex, ref map[string]int32, rpOf map[int32]int, rps [][32]byte) {
	t.Helper()
	want := make([][]int32, len(rps))
	for id, s := range ref {
		if got := x.find([]byte(id)); got != s {
			t.Fatalf("find %s: %d, want %d", id, got, s)
		}
		want[rpOf[s]] = append(want[rpOf[s]], s)
	}
	for i := range rps {
		got := x.ofRP(&rps[i])
		slices.Sort(got)
		slices.Sort(want[i])
		if !slices.Equal(got, want[i]) {
			t.Fatalf("RP %d: %v, want %v", i, got, want[i])
		}
	}
	if len(x.all()) != len(ref) {
		t.Fatalf("%d live slots, want %d", len(x.all()), len(ref))
	}
	if x.find([]byte("never added")) != noSlot {
		t.Fatal("found an ID never added")
	}
}

// TestRAMIndexLoadInSeqOrder: a load in sequence order, as the ids bucket
// iterates, interleaves RPs; each RP's chain starts at its newest slot.
func TestRAMIndexLoadInSeqOrder(t *testing.T) {
	x := newRAMIndex(5, 0, 10)
	a, b := [32]byte{1}, [32]byte{2}
	for i, rp := range [][32]byte{a, b, a, a, b} {
		x.add([]byte{byte(i), 0}, rp, uint64(i+1))
	}
	if got := x.ofRP(&a); !slices.Equal(got, []int32{3, 2, 0}) {
		t.Errorf("RP a: %v", got)
	}
	if got := x.ofRP(&b); !slices.Equal(got, []int32{4, 1}) {
		t.Errorf("RP b: %v", got)
	}
	x.remove(2)
	x.add([]byte{9}, a, 9)
	if got := x.ofRP(&a); !slices.Equal(got, []int32{5, 3, 0}) {
		t.Errorf("RP a after changes: %v", got)
	}
}

// TestRAMIndexLongIDs: IDs longer than a slot's head are told apart by
// their tails, and IDs that share a head by their lengths, even when every
// hash collides.
func TestRAMIndexLongIDs(t *testing.T) {
	head := bytes.Repeat([]byte{'h'}, idHeadLen)
	ids := [][]byte{
		head[:16],
		head,
		append(slices.Clone(head), 'a'),
		append(slices.Clone(head), 'b'),
		append(append(slices.Clone(head), bytes.Repeat([]byte{'t'}, 200)...), 'a'),
		append(append(slices.Clone(head), bytes.Repeat([]byte{'t'}, 200)...), 'b'),
	}
	x := newRAMIndex(0, 0, 0)
	x.hash = func([]byte) uint64 { return 42 }
	for i, id := range ids {
		x.add(id, [32]byte{1}, uint64(i))
	}
	for i, id := range ids {
		if s := x.find(id); s != int32(i) || !bytes.Equal(x.id(s), id) {
			t.Errorf("find %q: slot %d, want %d", id, s, i)
		}
	}
	for _, unknown := range [][]byte{head[:31], append(slices.Clone(head), 'c'), append(slices.Clone(ids[4]), 'x')} {
		if s := x.find(unknown); s != noSlot {
			t.Errorf("find %q: slot %d, want none", unknown, s)
		}
	}
}

// A slot is one cache line: a lookup by ID reads one. An entry fills the
// 128-byte size class, so that its first 64 bytes, which lookups and
// NextCounter read, are one aligned line.
func TestLookupLineSizes(t *testing.T) {
	if size := unsafe.Sizeof(slot{}); size != 64 {
		t.Errorf("a slot takes %d bytes, want 64", size)
	}
	var e entry
	if size := unsafe.Sizeof(e); size != 128 {
		t.Errorf("an entry takes %d bytes, want 128", size)
	}
	if end := unsafe.Offsetof(e.lastReserve) + unsafe.Sizeof(e.lastReserve); end > 64 {
		t.Errorf("the fields lookups read end at byte %d, past the first line", end)
	}
}
