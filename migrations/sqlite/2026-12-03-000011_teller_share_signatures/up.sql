-- Each sealed secret share carries its sender's signature (identity key, 128 hex digits):
-- the recipient checks it before opening the share, so a server or proxy cannot swap one.
ALTER TABLE teller_shares ADD COLUMN signature TEXT NOT NULL DEFAULT '';
