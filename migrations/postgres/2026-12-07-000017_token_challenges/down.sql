ALTER TABLE tokens DROP COLUMN challenges;
