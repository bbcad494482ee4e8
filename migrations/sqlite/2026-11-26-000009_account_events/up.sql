-- The officials' accounts audit trail: who created an account or an API token, or revoked one,
-- and when (from the CLI or the admin pages). Never a password or a token.
CREATE TABLE account_events (
    id TEXT PRIMARY KEY NOT NULL,
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL
);
