package keystore

import (
	"bytes"
	"hash/maphash"
)

// ramIndex maps credential IDs and rpIdHashes to slots, one slot per
// credential. It holds no pointers, so the garbage collector never scans
// it, and a load allocates a few arrays at their final size rather than
// an object per credential: Open with 100k credentials costs milliseconds.
//
// IDs are found through an open-addressing table (linear probing, at most
// half full, backward-shift deletion); each RP's slots form a chain that
// starts in byRP. Slots are never reused: a deleted credential's slot is
// unlinked and marked gone.
//
// A lookup by ID with many credentials is a chain of cache misses, each
// address read from the line before: it reads one table line and one slot
// line. A table entry carries part of the ID's hash, so probing past other
// IDs rarely touches their slots, and a slot holds the head of its ID, so
// an ID of up to idHeadLen bytes is compared without reading ids. What
// only changes or RP lookups read (the rpIdHash) is kept apart.
//
// ramIndex does no locking; DB.mu guards it.
type ramIndex struct {
	hash  func(id []byte) uint64 // maphash; tests force collisions
	table []uint64               // tableEntry by ID hash; 0 is empty
	slots []slot
	rps   [][32]byte         // rpIdHash by slot
	ids   []byte             // the IDs, back to back
	byRP  map[[32]byte]int32 // rpIdHash → first slot of the RP
	live  int
}

// idHeadLen is how much of an ID a slot holds: all of the 32-byte IDs
// passkeyd makes, and of the 16-byte minimum.
const idHeadLen = 32

// slot is one credential in the index: one cache line.
type slot struct {
	hash   uint64 // of the ID
	seq    uint64 // key of the record in the creds bucket
	idOff  uint32
	idLen  uint16
	gone   bool
	nextRP int32           // next slot of the same RP, or noSlot
	idHead [idHeadLen]byte // the ID's first bytes
}

const noSlot = -1

// tableEntry packs slot s and the high half of its ID's hash.
func tableEntry(s int32, hash uint64) uint64 { return hash&^0xffffffff | uint64(uint32(s+1)) }

// entrySlot is the slot of a non-empty table entry.
func entrySlot(v uint64) int32 { return int32(uint32(v)) - 1 }

// newRAMIndex returns an index with room for n credentials of nRP RPs
// whose IDs take idBytes.
func newRAMIndex(n, nRP, idBytes int) *ramIndex {
	seed := maphash.MakeSeed()
	size := 16
	for size < 2*n {
		size *= 2
	}
	return &ramIndex{
		hash:  func(id []byte) uint64 { return maphash.Bytes(seed, id) },
		table: make([]uint64, size),
		slots: make([]slot, 0, n),
		rps:   make([][32]byte, 0, n),
		ids:   make([]byte, 0, idBytes),
		byRP:  make(map[[32]byte]int32, nRP),
	}
}

// id returns the ID of slot s; the bytes belong to the index.
func (x *ramIndex) id(s int32) []byte {
	sl := &x.slots[s]
	return x.ids[sl.idOff : sl.idOff+uint32(sl.idLen)]
}

// rpHash returns the rpIdHash of slot s.
func (x *ramIndex) rpHash(s int32) [32]byte { return x.rps[s] }

// find returns the slot of id, or noSlot.
func (x *ramIndex) find(id []byte) int32 {
	h := x.hash(id)
	mask := uint64(len(x.table) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		v := x.table[i]
		if v == 0 {
			return noSlot
		}
		if (v^h)>>32 == 0 && x.holds(entrySlot(v), h, id) {
			return entrySlot(v)
		}
	}
}

// holds reports whether slot s is id's, whose hash is h.
func (x *ramIndex) holds(s int32, h uint64, id []byte) bool {
	sl := &x.slots[s]
	if sl.hash != h || int(sl.idLen) != len(id) {
		return false
	}
	head := min(len(id), idHeadLen)
	if !bytes.Equal(sl.idHead[:head], id[:head]) {
		return false
	}
	return head == len(id) || bytes.Equal(x.id(s)[head:], id[head:])
}

// add indexes a credential that is not indexed yet and returns its slot.
func (x *ramIndex) add(id []byte, rpHash [32]byte, seq uint64) int32 {
	s := x.push(id, rpHash, seq)
	next, ok := x.byRP[rpHash]
	if !ok {
		next = noSlot
	}
	x.slots[s].nextRP = next
	x.byRP[rpHash] = s
	return s
}

// push appends a slot and enters it in the table.
func (x *ramIndex) push(id []byte, rpHash [32]byte, seq uint64) int32 {
	if 2*(x.live+1) > len(x.table) {
		x.grow()
	}
	s := int32(len(x.slots))
	x.slots = append(x.slots, slot{hash: x.hash(id), seq: seq, idOff: uint32(len(x.ids)), idLen: uint16(len(id))})
	copy(x.slots[s].idHead[:], id)
	x.rps = append(x.rps, rpHash)
	x.ids = append(x.ids, id...)
	x.place(s)
	x.live++
	return s
}

// place puts slot s at the first free position from its home.
func (x *ramIndex) place(s int32) {
	h := x.slots[s].hash
	mask := uint64(len(x.table) - 1)
	i := h & mask
	for x.table[i] != 0 {
		i = (i + 1) & mask
	}
	x.table[i] = tableEntry(s, h)
}

func (x *ramIndex) grow() {
	x.table = make([]uint64, 2*len(x.table))
	for s := range x.slots {
		if !x.slots[s].gone {
			x.place(int32(s))
		}
	}
}

// remove unindexes slot s.
func (x *ramIndex) remove(s int32) {
	if x.slots[s].gone {
		return
	}
	x.unplace(s)
	x.unlinkRP(s)
	x.slots[s].gone = true
	x.live--
}

// unplace takes slot s out of the table and shifts back the entries after
// it that would otherwise become unreachable.
func (x *ramIndex) unplace(s int32) {
	mask := uint64(len(x.table) - 1)
	i := x.slots[s].hash & mask
	for entrySlot(x.table[i]) != s {
		i = (i + 1) & mask
	}
	x.table[i] = 0
	for j := (i + 1) & mask; x.table[j] != 0; j = (j + 1) & mask {
		home := x.slots[entrySlot(x.table[j])].hash & mask
		if (j-home)&mask >= (j-i)&mask { // the gap at i lies between its home and j
			x.table[i], x.table[j] = x.table[j], 0
			i = j
		}
	}
}

// moveRP files slot s under another RP.
func (x *ramIndex) moveRP(s int32, rpHash [32]byte) {
	x.unlinkRP(s)
	x.rps[s] = rpHash
	next, ok := x.byRP[rpHash]
	if !ok {
		next = noSlot
	}
	x.slots[s].nextRP = next
	x.byRP[rpHash] = s
}

func (x *ramIndex) unlinkRP(s int32) {
	rp := x.rps[s]
	head := x.byRP[rp]
	next := x.slots[s].nextRP
	if head == s {
		if next == noSlot {
			delete(x.byRP, rp)
		} else {
			x.byRP[rp] = next
		}
		return
	}
	for t := head; t != noSlot; t = x.slots[t].nextRP {
		if x.slots[t].nextRP == s {
			x.slots[t].nextRP = next
			return
		}
	}
}

// firstOfRP returns the first slot of one RP, or noSlot; nextOfRP the
// one after s.
func (x *ramIndex) firstOfRP(rpHash *[32]byte) int32 {
	if s, ok := x.byRP[*rpHash]; ok {
		return s
	}
	return noSlot
}

func (x *ramIndex) nextOfRP(s int32) int32 { return x.slots[s].nextRP }

// ofRP returns the slots of one RP.
func (x *ramIndex) ofRP(rpHash *[32]byte) []int32 {
	var out []int32
	for s := x.firstOfRP(rpHash); s != noSlot; s = x.nextOfRP(s) {
		out = append(out, s)
	}
	return out
}

// all returns every live slot.
func (x *ramIndex) all() []int32 {
	out := make([]int32, 0, x.live)
	for s := range x.slots {
		if !x.slots[s].gone {
			out = append(out, int32(s))
		}
	}
	return out
}
