DROP INDEX log_entries_by_receipt;
ALTER TABLE log_entries DROP COLUMN receipt;
