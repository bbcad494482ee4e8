-- Failed logins per client address, shared by every instance on the database: attempts are
-- reserved with one conditional UPDATE, so parallel requests cannot exceed the limit.
CREATE TABLE login_throttle (
    address TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    window_start TIMESTAMP NOT NULL
);
