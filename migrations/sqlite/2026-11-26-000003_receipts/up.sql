-- Ballot receipts, so a member can find their own entry (and its inclusion proof).
ALTER TABLE log_entries ADD COLUMN receipt TEXT;
CREATE UNIQUE INDEX log_entries_by_receipt ON log_entries (receipt) WHERE receipt IS NOT NULL;
