-- The pace of mail_per_minute, shared by every instance sending through one SMTP server: when
-- its next message may go, in microseconds since the Unix epoch.
CREATE TABLE mail_pace (
    server TEXT PRIMARY KEY NOT NULL,
    next_at BIGINT NOT NULL
);
