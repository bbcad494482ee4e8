-- The deployment's public URL at creation (https://HOST[:PORT]): ballot links are built from
-- it, as the log's origin is, so they never depend on which process issues tokens.
-- Empty for elections created before it was kept: their links come from the origin's host.
ALTER TABLE elections ADD COLUMN public_url TEXT NOT NULL DEFAULT '';
