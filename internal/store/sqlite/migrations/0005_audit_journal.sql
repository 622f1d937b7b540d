-- Where integration of the audit journal stands (audit_journal.go): the
-- journal file's generation and the offset in it up to which its records
-- are in audit_entries. Integration moves pos in the transaction that
-- writes the entries, so each staged record goes into the log exactly once;
-- emptying the journal moves to the next generation. A new journal starts
-- at generation 1, right after its 16-byte header.
CREATE TABLE audit_journal (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    gen INTEGER NOT NULL,
    pos INTEGER NOT NULL
);
INSERT INTO audit_journal (id, gen, pos) VALUES (1, 1, 16);
