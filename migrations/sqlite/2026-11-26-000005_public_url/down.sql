ALTER TABLE elections DROP COLUMN public_url;
