package audit

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wardenhq/warden/internal/event"
	"github.com/wardenhq/warden/internal/store"
)

// An evidence bundle is a zip file:
//
//	manifest.json   Manifest: what was selected, counts, SHA-256 of every other file
//	checkpoint.txt  the signed checkpoint every proof leads to
//	verifier.key    the log's verifier key (note format)
//	entries.jsonl   one BundleEntry per line: index, leaf, inclusion proof
//	bodies/N.age    retained body of entry N, age-encrypted (or N.json in clear)
//	summary.md      a readable account of what the key did
//
// VerifyBundle checks it with nothing else at hand. Note what it proves:
// every entry in the bundle is in the log under the signed checkpoint and
// unaltered. That the bundle holds every entry of the key is established
// when it is made: Export reads every leaf under the checkpoint, rebuilds
// the tree from them and checks its root against the checkpoint's, and
// selects entries by what their leaves say, never by the store's index
// columns (see docs/audit.md, "Complete exports").

// BundleFormat is the manifest's format tag.
const BundleFormat = "warden-audit-bundle/1"

// Bundle limits, enforced when reading (and so, not to make bundles nobody
// can read, when writing).
const (
	MaxBundleEntries   = 1_000_000
	maxBundleLine      = MaxLeafSize + 64<<10
	maxBundleSmallFile = 1 << 20
	maxSummaryRows     = 2000
)

// Manifest describes a bundle.
type Manifest struct {
	Format     string            `json:"format"`
	Origin     string            `json:"origin"`
	Created    time.Time         `json:"created"`
	Scope      Scope             `json:"scope"`
	Checkpoint int64             `json:"checkpoint_size"`
	Root       tlog.Hash         `json:"checkpoint_root"`
	Entries    int64             `json:"entries"`
	Bodies     int64             `json:"bodies"`
	Files      map[string]string `json:"files"` // name -> hex SHA-256
}

// BundleEntry is one line of entries.jsonl.
type BundleEntry struct {
	Index    int64            `json:"index"`
	Leaf     string           `json:"leaf"`
	LeafHash tlog.Hash        `json:"leaf_hash"`
	Proof    tlog.RecordProof `json:"proof"`
	Body     string           `json:"body,omitempty"` // file name in the bundle
}

// Export writes an evidence bundle of the entries in scope to w. It signs a
// fresh checkpoint (or, without a signing key, uses the latest) and proves
// every entry against it.
func (l *Log) Export(ctx context.Context, w io.Writer, scope Scope) (*Manifest, error) {
	if scope.KeyID == "" {
		return nil, errors.New("audit: export needs a key id or an incident")
	}
	c, err := l.Checkpoint(ctx)
	if errors.Is(err, ErrReadOnly) {
		c, err = l.Latest(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("audit: export: %w", err)
	}
	m := &Manifest{
		Format: BundleFormat, Origin: c.Origin, Created: l.now().UTC(), Scope: scope,
		Checkpoint: c.Size, Root: c.Root, Files: map[string]string{},
	}
	zw := zip.NewWriter(w)
	put := func(name string, data []byte) error {
		fw, err := create(zw, name, m.Created)
		if err != nil {
			return err
		}
		if _, err := fw.Write(data); err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		m.Files[name] = hex.EncodeToString(sum[:])
		return nil
	}
	if err := put("checkpoint.txt", c.Note); err != nil {
		return nil, fmt.Errorf("audit: export: %w", err)
	}
	if err := put("verifier.key", []byte(l.vkey+"\n")); err != nil {
		return nil, fmt.Errorf("audit: export: %w", err)
	}
	// Pass 1: every leaf under the checkpoint, not only those the store's
	// key_id column selects: the entries of the key are chosen by what their
	// leaves say, the tree is rebuilt from all leaves and must give the
	// checkpoint's root, and a leaf whose columns disagree with it stops the
	// export. So a changed index column can neither hide an entry nor slip
	// one in. Entries go out streamed with their proofs; the summary's
	// figures are gathered on the way.
	fw, err := create(zw, "entries.jsonl", m.Created)
	if err != nil {
		return nil, fmt.Errorf("audit: export: %w", err)
	}
	hw := newHashWriter(fw)
	enc := json.NewEncoder(hw)
	sum := newSummary(m)
	var (
		withBody []int64
		tree     frontier
		next     int64
	)
	r := l.storeReader(ctx)
	scan := l.st.ScanAudit
	if c.Size == 0 { // an empty log; To 0 would mean "no bound"
		scan = func(context.Context, store.AuditFilter, func(*store.AuditEntry) error) error { return nil }
	}
	err = scan(ctx, store.AuditFilter{To: c.Size}, func(e *store.AuditEntry) error {
		if e.Index != next {
			return fmt.Errorf("audit: export: entry %d is missing (run audit verify)", next)
		}
		next++
		leafHash := tlog.RecordHash(e.Leaf)
		hs, err := tlog.StoredHashesForRecordHash(e.Index, leafHash, &tree)
		if err != nil {
			return fmt.Errorf("audit: export: entry %d: %w", e.Index, err)
		}
		tree.add(hs, tlog.StoredHashCount(e.Index))
		leaf, err := ParseLeaf(e.Leaf)
		if err != nil {
			return fmt.Errorf("audit: export: entry %d: %w", e.Index, err)
		}
		x, err := leaf.Index()
		if err != nil {
			return fmt.Errorf("audit: export: entry %d: %w", e.Index, err)
		}
		if why := columnMismatch(x, e.KeyID, e.Team, e.Time, false, "", time.Time{}); why != "" {
			return fmt.Errorf("audit: export: entry %d: %s; run audit verify", e.Index, why)
		}
		if x.KeyID != scope.KeyID || (!scope.Since.IsZero() && x.Time.Before(scope.Since)) || (!scope.Until.IsZero() && !x.Time.Before(scope.Until)) {
			return nil
		}
		if m.Entries == MaxBundleEntries {
			return fmt.Errorf("audit: export: more than %d entries; narrow the time range", MaxBundleEntries)
		}
		proof, err := tlog.ProveRecord(c.Size, e.Index, r)
		if err != nil {
			return fmt.Errorf("audit: export: prove entry %d: %w", e.Index, err)
		}
		be := BundleEntry{Index: e.Index, Leaf: string(e.Leaf), LeafHash: leafHash, Proof: proof}
		if err := tlog.CheckRecord(proof, c.Size, c.Root, e.Index, be.LeafHash); err != nil {
			return fmt.Errorf("audit: export: entry %d does not verify against checkpoint %d (run audit verify): %w", e.Index, c.Size, err)
		}
		if leaf.Blob.Set {
			withBody = append(withBody, e.Index)
			be.Body = bodyName(e.Index, leaf.Mode)
		}
		sum.add(e.Index, leaf)
		m.Entries++
		return enc.Encode(&be)
	})
	if err != nil {
		return nil, err
	}
	if next != c.Size {
		return nil, fmt.Errorf("audit: export: the log has %d entries under checkpoint %d (run audit verify)", next, c.Size)
	}
	if c.Size > 0 {
		root, err := tlog.TreeHash(c.Size, &tree)
		if err != nil {
			return nil, fmt.Errorf("audit: export: %w", err)
		}
		if root != c.Root {
			return nil, fmt.Errorf("audit: export: the leaves under checkpoint %d do not hash to its root: the log was changed (run audit verify)", c.Size)
		}
	}
	m.Files["entries.jsonl"] = hw.sum()

	// Pass 2: retained bodies, one file each. A pruned body's file is
	// simply absent; its leaf still proves its digests.
	for len(withBody) > 0 {
		chunk := withBody[:min(len(withBody), 512)]
		withBody = withBody[len(chunk):]
		err := l.st.ScanAudit(ctx, store.AuditFilter{From: chunk[0], To: chunk[len(chunk)-1] + 1, Bodies: true}, func(e *store.AuditEntry) error {
			if e.Body == nil || !slices.Contains(chunk, e.Index) {
				return nil
			}
			leaf, err := ParseLeaf(e.Leaf)
			if err != nil {
				return err
			}
			m.Bodies++
			return put(bodyName(e.Index, leaf.Mode), e.Body)
		})
		if err != nil {
			return nil, fmt.Errorf("audit: export bodies: %w", err)
		}
	}
	if err := put("summary.md", sum.markdown(l.vkey)); err != nil {
		return nil, fmt.Errorf("audit: export: %w", err)
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("audit: export: %w", err)
	}
	fw, err = create(zw, "manifest.json", m.Created)
	if err == nil {
		_, err = fw.Write(append(mb, '\n'))
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("audit: export: %w", err)
	}
	return m, nil
}

func create(zw *zip.Writer, name string, t time.Time) (io.Writer, error) {
	return zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: t})
}

func bodyName(index int64, mode BodyMode) string {
	ext := ".json"
	if mode == BodyEncrypted {
		ext = ".age"
	}
	return fmt.Sprintf("bodies/%012d%s", index, ext)
}

type hashWriter struct {
	w io.Writer
	h hash.Hash
}

func newHashWriter(w io.Writer) *hashWriter { return &hashWriter{w, sha256.New()} }

func (h *hashWriter) Write(p []byte) (int, error) {
	h.h.Write(p)
	return h.w.Write(p)
}

func (h *hashWriter) sum() string { return hex.EncodeToString(h.h.Sum(nil)) }

// BundleReport describes a bundle that verified.
type BundleReport struct {
	Origin  string    `json:"origin"`
	Size    int64     `json:"checkpoint_size"`
	Root    tlog.Hash `json:"checkpoint_root"`
	Scope   Scope     `json:"scope"`
	Entries int64     `json:"entries"`
	Bodies  int64     `json:"bodies"`
	// KeyFromBundle is set when no trusted key was given: the checkpoint
	// was checked with the key the bundle itself carries, which proves
	// integrity only if that key is compared with the log's published key.
	KeyFromBundle bool   `json:"key_from_bundle"`
	VerifierKey   string `json:"verifier_key"`
}

// VerifyBundle checks an evidence bundle offline: every file against the
// manifest, the checkpoint's signature, every entry's inclusion proof, every
// leaf's form and scope, every body against its leaf. trusted, if not nil,
// is the log's verifier key from a trusted source; the bundle's must match.
func VerifyBundle(r io.ReaderAt, size int64, trusted note.Verifier) (*BundleReport, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("audit: bundle: %w", err)
	}
	if len(zr.File) > MaxBundleEntries+8 {
		return nil, fmt.Errorf("audit: bundle: %d files is too many", len(zr.File))
	}
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		if _, dup := files[f.Name]; dup {
			return nil, fmt.Errorf("audit: bundle: file %q appears twice", f.Name)
		}
		files[f.Name] = f
	}
	open := func(name string) (io.ReadCloser, error) {
		f, ok := files[name]
		if !ok {
			return nil, fmt.Errorf("audit: bundle: %s is missing", name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("audit: bundle: %s: %w", name, err)
		}
		return rc, nil
	}
	read := func(name string, limit int64) ([]byte, error) {
		rc, err := open(name)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, limit+1))
		if err != nil {
			return nil, fmt.Errorf("audit: bundle: %s: %w", name, err)
		}
		if int64(len(b)) > limit {
			return nil, fmt.Errorf("audit: bundle: %s is larger than %d bytes", name, limit)
		}
		return b, nil
	}
	mb, err := read("manifest.json", maxBundleSmallFile)
	if err != nil {
		return nil, err
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(mb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("audit: bundle: manifest: %w", err)
	}
	if m.Format != BundleFormat {
		return nil, fmt.Errorf("audit: bundle: format %q, want %q", m.Format, BundleFormat)
	}
	// Every file is in the manifest and matches it, and vice versa.
	for name := range files {
		if _, ok := m.Files[name]; !ok && name != "manifest.json" {
			return nil, fmt.Errorf("audit: bundle: %s is not in the manifest", name)
		}
	}
	for name, want := range m.Files {
		rc, err := open(name)
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		_, err = io.Copy(h, io.LimitReader(rc, int64(MaxBundleEntries)*maxBundleLine))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("audit: bundle: %s: %w", name, err)
		}
		if hex.EncodeToString(h.Sum(nil)) != want {
			return nil, fmt.Errorf("audit: bundle: %s does not match the manifest", name)
		}
	}

	vk, err := read("verifier.key", 4096)
	if err != nil {
		return nil, err
	}
	vkey := strings.TrimSpace(string(vk))
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("audit: bundle: verifier.key: %w", err)
	}
	rep := &BundleReport{KeyFromBundle: trusted == nil, VerifierKey: vkey, Scope: m.Scope}
	if trusted != nil {
		if trusted.Name() != v.Name() || trusted.KeyHash() != v.KeyHash() {
			return nil, fmt.Errorf("audit: bundle: signed by %s+%08x, not by the trusted key %s+%08x", v.Name(), v.KeyHash(), trusted.Name(), trusted.KeyHash())
		}
		v = trusted
	}
	cb, err := read("checkpoint.txt", maxCheckpointSize)
	if err != nil {
		return nil, err
	}
	c, err := OpenCheckpoint(cb, v)
	if err != nil {
		return nil, fmt.Errorf("audit: bundle: %w", err)
	}
	if c.Size != m.Checkpoint || c.Root != m.Root || c.Origin != m.Origin {
		return nil, errors.New("audit: bundle: manifest does not match the checkpoint")
	}
	rep.Origin, rep.Size, rep.Root = c.Origin, c.Size, c.Root

	ef, ok := files["entries.jsonl"]
	if !ok {
		return nil, errors.New("audit: bundle: no entries.jsonl")
	}
	rc, err := ef.Open()
	if err != nil {
		return nil, fmt.Errorf("audit: bundle: entries.jsonl: %w", err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), maxBundleLine)
	last := int64(-1)
	for sc.Scan() {
		var be BundleEntry
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.DisallowUnknownFields()
		if err := d.Decode(&be); err != nil {
			return nil, fmt.Errorf("audit: bundle: entry after %d: %w", last, err)
		}
		if err := checkBundleEntry(&be, c, &m, last); err != nil {
			return nil, err
		}
		last = be.Index
		rep.Entries++
		if rep.Entries > MaxBundleEntries {
			return nil, errors.New("audit: bundle: too many entries")
		}
		if be.Body != "" {
			leaf, _ := ParseLeaf([]byte(be.Leaf)) // checked above
			if be.Body != bodyName(be.Index, leaf.Mode) {
				return nil, fmt.Errorf("audit: bundle: entry %d names body %q", be.Index, be.Body)
			}
			if _, ok := files[be.Body]; ok {
				b, err := read(be.Body, maxStoredBody)
				if err != nil {
					return nil, err
				}
				if sha256.Sum256(b) != leaf.Blob.Sum {
					return nil, fmt.Errorf("audit: bundle: entry %d: body does not match its leaf", be.Index)
				}
				rep.Bodies++
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("audit: bundle: entries.jsonl: %w", err)
	}
	if rep.Entries != m.Entries || rep.Bodies != m.Bodies {
		return nil, fmt.Errorf("audit: bundle: manifest says %d entries and %d bodies, found %d and %d", m.Entries, m.Bodies, rep.Entries, rep.Bodies)
	}
	return rep, nil
}

func checkBundleEntry(be *BundleEntry, c Checkpoint, m *Manifest, last int64) error {
	if be.Index <= last || be.Index >= c.Size {
		return fmt.Errorf("audit: bundle: entry %d out of order or outside the checkpoint of %d", be.Index, c.Size)
	}
	leaf, err := ParseLeaf([]byte(be.Leaf))
	if err != nil {
		return fmt.Errorf("audit: bundle: entry %d: %w", be.Index, err)
	}
	h := tlog.RecordHash([]byte(be.Leaf))
	if h != be.LeafHash {
		return fmt.Errorf("audit: bundle: entry %d: leaf hash does not match the leaf", be.Index)
	}
	if err := tlog.CheckRecord(be.Proof, c.Size, c.Root, be.Index, h); err != nil {
		return fmt.Errorf("audit: bundle: entry %d is not in the signed log: %w", be.Index, err)
	}
	var ev struct {
		KeyID string    `json:"key_id"`
		Time  time.Time `json:"ts"`
	}
	if err := json.Unmarshal(leaf.Event, &ev); err != nil {
		return fmt.Errorf("audit: bundle: entry %d: event: %w", be.Index, err)
	}
	s := m.Scope
	if ev.KeyID != s.KeyID || (!s.Since.IsZero() && ev.Time.Before(s.Since)) || (!s.Until.IsZero() && !ev.Time.Before(s.Until)) {
		return fmt.Errorf("audit: bundle: entry %d (key %s at %s) is outside the bundle's scope", be.Index, ev.KeyID, ev.Time.Format(time.RFC3339))
	}
	return nil
}

// summary gathers the figures of summary.md while entries stream by.
type summary struct {
	m                  *Manifest
	first, last        time.Time
	status             map[int]int64
	ips, agents, model map[string]int64
	tokens             int64
	cost               float64
	refused            int64
	rows               []string
}

func newSummary(m *Manifest) *summary {
	return &summary{m: m, status: map[int]int64{}, ips: map[string]int64{}, agents: map[string]int64{}, model: map[string]int64{}}
}

func (s *summary) add(index int64, l *Leaf) {
	var e event.Event
	if json.Unmarshal(l.Event, &e) != nil {
		return
	}
	if s.first.IsZero() || e.Time.Before(s.first) {
		s.first = e.Time
	}
	if e.Time.After(s.last) {
		s.last = e.Time
	}
	s.status[e.Status]++
	s.ips[e.ClientIP]++
	s.agents[e.Client.UserAgent]++
	s.model[e.Model]++
	s.tokens += int64(e.PromptTokens + e.CompletionTokens)
	s.cost += e.CostUSD
	if e.Refusal != "" {
		s.refused++
	}
	if len(s.rows) < maxSummaryRows {
		s.rows = append(s.rows, fmt.Sprintf("| %d | %s | %s | %s %s | %s | %d | %d | %.4f | %s |",
			index, e.Time.Format(time.RFC3339), md(e.ClientIP), md(e.Method), md(e.Path), md(e.Model), e.Status,
			e.PromptTokens+e.CompletionTokens, e.CostUSD, md(e.Client.UserAgent)))
	}
}

// md makes s safe inside a Markdown table cell.
func md(s string) string {
	s = strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "`", "'").Replace(s)
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

func (s *summary) markdown(vkey string) []byte {
	var b bytes.Buffer
	m := s.m
	fmt.Fprintf(&b, "# Warden audit evidence: key %s\n\n", md(m.Scope.KeyID))
	fmt.Fprintf(&b, "- Log: `%s`, checkpoint of %d entries, root `%s`\n", m.Origin, m.Checkpoint, m.Root)
	fmt.Fprintf(&b, "- Verifier key: `%s`\n", vkey)
	if m.Scope.Incident != "" {
		fmt.Fprintf(&b, "- Incident: %s\n", md(m.Scope.Incident))
	}
	fmt.Fprintf(&b, "- Selected: key %s, from %s to %s\n", md(m.Scope.KeyID), timeOr(m.Scope.Since, "the start"), timeOr(m.Scope.Until, "the checkpoint"))
	fmt.Fprintf(&b, "- Made: %s\n\n", m.Created.Format(time.RFC3339))
	fmt.Fprintf(&b, "## What the key did\n\n")
	fmt.Fprintf(&b, "%d requests", m.Entries)
	if m.Entries > 0 {
		fmt.Fprintf(&b, " between %s and %s", s.first.Format(time.RFC3339), s.last.Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "; %d refused by Warden; %d tokens; %.4f USD.\n\n", s.refused, s.tokens, s.cost)
	top := func(title string, m map[string]int64) {
		fmt.Fprintf(&b, "### %s\n\n| count | value |\n|---:|---|\n", title)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
		for i, k := range keys {
			if i == 20 {
				fmt.Fprintf(&b, "| … | %d more |\n", len(keys)-20)
				break
			}
			fmt.Fprintf(&b, "| %d | %s |\n", m[k], md(k))
		}
		b.WriteString("\n")
	}
	st := map[string]int64{}
	for k, v := range s.status {
		st[fmt.Sprint(k)] = v
	}
	top("Status codes", st)
	top("Client addresses", s.ips)
	top("User agents", s.agents)
	top("Models", s.model)
	fmt.Fprintf(&b, "## Requests\n\n| entry | time | client | request | model | status | tokens | USD | user agent |\n|---:|---|---|---|---|---:|---:|---:|---|\n")
	for _, r := range s.rows {
		b.WriteString(r + "\n")
	}
	if m.Entries > int64(len(s.rows)) {
		fmt.Fprintf(&b, "\n(%d more in entries.jsonl)\n", m.Entries-int64(len(s.rows)))
	}
	fmt.Fprintf(&b, `
## How to check this bundle

    warden audit verify-bundle %s --key '<the log's published verifier key>'

checks, with no access to the server: every file against manifest.json, the
signature on checkpoint.txt, and that each entry in entries.jsonl is in the
signed log, unaltered (an RFC 6962 inclusion proof), and within the selection.
Retained bodies in bodies/ are checked against the SHA-256 their entry commits
to; encrypted ones open with the investigator's age key (age -d -i key.txt).
The bundle proves every entry in it is genuine. Warden made it by reading all
%d entries under the checkpoint, checking that they hash to its root, and
selecting the key's entries by what each entry says, not by the database's
index; that it holds every entry of the key rests on that export. To check
it yourself, export again from the log against the same checkpoint, and
compare checkpoints with a witness (consistency proof) for the history.
`, "BUNDLE.zip", m.Checkpoint)
	return b.Bytes()
}

func timeOr(t time.Time, s string) string {
	if t.IsZero() {
		return s
	}
	return t.Format(time.RFC3339)
}
