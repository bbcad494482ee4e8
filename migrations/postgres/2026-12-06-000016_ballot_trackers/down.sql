DROP INDEX log_entries_tracker;
ALTER TABLE log_entries DROP COLUMN tracker;
