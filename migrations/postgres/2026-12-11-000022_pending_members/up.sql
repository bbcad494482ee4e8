-- Letters replacing the links of members whose email bounced, asked for mid-vote under the
-- two-person rule, name the members the asker saw (a JSON array of member ids): what the second
-- admin approves is that list, not whoever bounces later.
ALTER TABLE pending_actions ADD COLUMN members TEXT;
