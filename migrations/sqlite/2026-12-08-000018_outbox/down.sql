DROP TABLE outbox;
ALTER TABLE members DROP COLUMN language;
