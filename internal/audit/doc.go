// Package audit keeps Warden's tamper-evident audit log: every event.Event,
// one leaf each, in an append-only Merkle tree with signed checkpoints, so
// that after a key was stolen its owner (or a court) can see exactly what it
// did and check that nobody edited the record since.
//
// The tree is the one of RFC 6962 / RFC 9162 (section 2.1): a leaf hashes as
// SHA-256(0x00 || leaf), an inner node as SHA-256(0x01 || left || right).
// Hashing, proofs and stored-hash layout are golang.org/x/mod/sumdb/tlog;
// checkpoints are signed notes (golang.org/x/mod/sumdb/note) in the C2SP
// tlog-checkpoint format, so any tool or witness that reads those reads ours.
//
// # Leaf
//
// A leaf is three lines, each ending in a newline (U+000A):
//
//	warden-audit/v1
//	body <mode> <prompt> <answer> <blob>
//	<event JSON>
//
// mode is the retention mode the body was recorded under (none, hash,
// encrypted, plaintext). prompt and answer are the lower-case hex SHA-256 of
// the masked prompt and answer text, blob the SHA-256 of the body as stored
// (age ciphertext or plain JSON, see Body); each is "-" when absent. The
// event JSON is encoding/json's encoding of event.Event (field order fixed
// by the struct, no newlines), with credentials masked in the path and user
// agent. Because the leaf holds the body's hashes and not the body, pruning
// a body later leaves the tree and every proof intact.
//
// # Checkpoint
//
// A checkpoint is a signed note whose text is
//
//	<origin>
//	<tree size, decimal>
//	<root hash, standard base64>
//
// followed by a blank line and one signature line per signer:
//
//	warden.example/audit/gw1
//	1024
//	B1hXF8Qedn/ZaYTn6HoC6i1cobEQcNUsijRPrHinUKk=
//
//	— warden.example/audit/gw1 VTIQtmbLbDUt...
//
// The origin (Config.Origin) is also the name of the Ed25519 signing key.
// Checkpoints are made every Config.CheckpointInterval while the log grows,
// on demand (Log.Checkpoint), and when the log closes. Before signing, the log
// checks that the new tree is consistent with the latest checkpoint, so it
// never signs over a rewritten past.
//
// # Durability
//
// Log.Append returns only after its entry is durable. Appends that arrive
// together are committed together (group commit), so many concurrent
// requests cost one commit, not one each.
//
// # Staging and integration
//
// Both stores stage appends (store.AuditStaging), as Trillian Tessera and
// the Certificate Transparency logs do: a group commit is one write to a
// durable staging area (SQLite: one write(2) on a journal file next to the
// database; PostgreSQL: one insert into a staging table shared by every
// server), and Append returns once that is durable (with index -1: the
// index is not assigned yet). One integrator at a time, holding a
// lease in the store, moves staged entries to the end of the log in
// batches: it assigns their indexes, computes the tree's stored hashes and
// removes them from staging in one transaction; if it dies mid-batch the
// transaction rolls back and the entries wait for the next integrator. Every
// server runs an integrator loop, and whichever holds the lease integrates
// every server's entries, so no row is locked by every append, only by each
// integrated batch. On SQLite one process owns the journal and integrates
// it. Checkpoint, the admin API's listing and Close integrate
// what is staged first (Sync), so a checkpoint covers every append answered
// before it. Servers must share the origin and signing key (Config.Origin,
// Config.SigningKeyFile); periodic checkpoints are made by whichever server
// ticks first (the others see a fresh checkpoint and skip).
//
// # Verification
//
// Verify rebuilds the whole tree from the leaves, compares every stored
// hash, checks every checkpoint's signature and root, checks every column a
// store keeps beside a leaf (key, team, time) against the leaf, and checks
// every retained body against its leaf. Inclusion and consistency proofs
// (ProveInclusion, ProveConsistency) let a third party check single entries
// and the log's append-only history against checkpoints alone. An evidence
// bundle (Export, VerifyBundle) carries entries, proofs, the checkpoint and
// the verifier key in one zip file that verifies offline.
package audit
