ALTER TABLE teller_shares DROP COLUMN signature;
