-- How many sealed ballots a member checked instead of casting ("Check it first"): a check
-- writes a challenge entry and leaves the token unused, so it is capped per token to keep the
-- log from being flooded. A count only; which ballots were checked is in the log, not here.
ALTER TABLE tokens ADD COLUMN challenges INTEGER NOT NULL DEFAULT 0;
