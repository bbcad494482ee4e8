-- A member's postal address for a printed letter (lines joined by a line feed), if the roster
-- gave one: members without an email address, or whose email bounced, get their ballot by post.
ALTER TABLE members ADD COLUMN address TEXT;
