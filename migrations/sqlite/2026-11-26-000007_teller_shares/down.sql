DROP TABLE teller_shares;
