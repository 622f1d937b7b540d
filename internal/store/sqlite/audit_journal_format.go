// The audit journal's file format: a header, then records, each one staged
// entry.
//
//	header = magic "wdn-aj1\n" (8 bytes) | generation (uint64, little-endian)
//	record = length (uint32 LE) | CRC-32C (uint32 LE) | payload (length bytes)
//	payload = version 1 (1 byte) | time (int64 LE, Unix ns) |
//	          body expiry (int64 LE, Unix ns; 0: none) |
//	          key id | team | leaf   (each uvarint length, then the bytes) |
//	          body                   (uvarint length+1, 0 for no body; then the bytes)
//
// The CRC-32C (Castagnoli) covers the length field and the payload, so a
// damaged length is caught as surely as a damaged payload. A record is
// written by one write(2) together with the rest of its group commit; after
// a crash the file can end in part of a record (a torn tail), which
// decodeRecord reports as errShortRecord or errBadRecord and recovery cuts
// off.

package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/wardenhq/warden/internal/store"
)

const (
	journalMagic     = "wdn-aj1\n"
	journalHeaderLen = int64(len(journalMagic) + 8)
	recordHeaderLen  = 8
	recordVersion    = 1
	// maxRecordLen bounds one record's payload, so that a damaged length
	// field cannot make a reader allocate gigabytes. A leaf is at most
	// 1 MiB (audit.MaxLeafSize); a body holds a prompt and an answer of at
	// most max_body_bytes each, base64-encoded, maybe age-encrypted.
	maxRecordLen = 64 << 20
)

var (
	// errShortRecord: the bytes end inside a record (a torn tail after a
	// crash, or a record still being written by its owner).
	errShortRecord = errors.New("sqlite: audit journal: record cut short")
	// errBadRecord: a record's checksum or encoding is wrong.
	errBadRecord = errors.New("sqlite: audit journal: damaged record")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendHeader appends the file header of generation gen to b.
func appendHeader(b []byte, gen uint64) []byte {
	b = append(b, journalMagic...)
	return binary.LittleEndian.AppendUint64(b, gen)
}

// parseHeader returns the generation in a file header.
func parseHeader(b []byte) (uint64, error) {
	if int64(len(b)) < journalHeaderLen || string(b[:len(journalMagic)]) != journalMagic {
		return 0, errors.New("sqlite: not a warden audit journal (bad header)")
	}
	return binary.LittleEndian.Uint64(b[len(journalMagic):]), nil
}

// appendRecord appends e's record to b.
func appendRecord(b []byte, e *store.AuditEntry) ([]byte, error) {
	start := len(b)
	b = append(b, make([]byte, recordHeaderLen)...)
	b = append(b, recordVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(store.Nanos(e.Time)))
	b = binary.LittleEndian.AppendUint64(b, uint64(store.Nanos(e.BodyExpires)))
	for _, s := range [][]byte{[]byte(e.KeyID), []byte(e.Team), e.Leaf} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if e.Body == nil {
		b = binary.AppendUvarint(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(e.Body))+1)
		b = append(b, e.Body...)
	}
	n := len(b) - start - recordHeaderLen
	if n > maxRecordLen {
		return b[:start], fmt.Errorf("sqlite: audit journal: entry of %d bytes exceeds %d", n, maxRecordLen)
	}
	binary.LittleEndian.PutUint32(b[start:], uint32(n))
	crc := crc32.Update(0, castagnoli, b[start:start+4])
	crc = crc32.Update(crc, castagnoli, b[start+recordHeaderLen:])
	binary.LittleEndian.PutUint32(b[start+4:], crc)
	return b, nil
}

// decodeRecord decodes the record at the start of b into e, whose byte
// fields then point into b (no copies), and returns the record's length in
// bytes. It fails with errShortRecord if b ends inside the record and with
// errBadRecord if the record is damaged; it never reads past b or
// allocates more than the strings of e.
func decodeRecord(b []byte, e *store.AuditEntry) (int, error) {
	if len(b) < recordHeaderLen {
		return 0, errShortRecord
	}
	n := binary.LittleEndian.Uint32(b)
	if n == 0 || n > maxRecordLen {
		return 0, fmt.Errorf("%w: length %d", errBadRecord, n)
	}
	total := recordHeaderLen + int(n)
	if len(b) < total {
		return 0, errShortRecord
	}
	crc := crc32.Update(0, castagnoli, b[:4])
	crc = crc32.Update(crc, castagnoli, b[recordHeaderLen:total])
	if crc != binary.LittleEndian.Uint32(b[4:]) {
		return 0, fmt.Errorf("%w: checksum mismatch", errBadRecord)
	}
	p := b[recordHeaderLen:total]
	if len(p) < 17 || p[0] != recordVersion {
		return 0, fmt.Errorf("%w: unknown version or too short", errBadRecord)
	}
	ts, exp := int64(binary.LittleEndian.Uint64(p[1:])), int64(binary.LittleEndian.Uint64(p[9:]))
	p = p[17:]
	var fields [4][]byte
	for i := range fields {
		l, k := binary.Uvarint(p)
		if k <= 0 {
			return 0, fmt.Errorf("%w: field %d has a bad length", errBadRecord, i)
		}
		p = p[k:]
		if i == 3 { // the body: 0 for none, else length+1
			if l == 0 {
				break
			}
			l--
		}
		if l > uint64(len(p)) {
			return 0, fmt.Errorf("%w: field %d overruns the record", errBadRecord, i)
		}
		fields[i] = p[:l:l]
		p = p[l:]
	}
	if len(p) != 0 {
		return 0, fmt.Errorf("%w: %d bytes after the last field", errBadRecord, len(p))
	}
	*e = store.AuditEntry{
		Time:        store.FromNanos(ts),
		BodyExpires: store.FromNanos(exp),
		KeyID:       string(fields[0]),
		Team:        string(fields[1]),
		Leaf:        fields[2],
		Body:        fields[3],
	}
	return total, nil
}
