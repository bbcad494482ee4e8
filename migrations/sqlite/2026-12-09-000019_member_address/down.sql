ALTER TABLE members DROP COLUMN address;
