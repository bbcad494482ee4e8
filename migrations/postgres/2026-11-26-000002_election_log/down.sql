DROP TABLE checkpoints;
DROP TABLE log_nodes;
DROP TABLE log_entries;
ALTER TABLE elections DROP COLUMN log_size;
ALTER TABLE elections DROP COLUMN origin;
