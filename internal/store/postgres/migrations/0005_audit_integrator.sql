-- A sticky integration lease. The transaction-scoped advisory lock keeps
-- integrators apart, but it is free between two passes, so with several
-- instances each took it in turn: every pass moved a third of the batch and
-- began by reading the tree's peaks back, since another instance had moved
-- the log since (four times the integration work per entry with three
-- instances). The instance that integrated last now keeps the right to
-- integrate until `until`, renewing it with every pass; the others leave
-- the work to it and take over once it lapses (an instance that stops hands
-- it back). The advisory lock still decides who writes.
CREATE TABLE audit_integrator (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    holder TEXT NOT NULL,
    until  TIMESTAMPTZ NOT NULL
);
INSERT INTO audit_integrator (id, holder, until) VALUES (1, '', 'epoch');
