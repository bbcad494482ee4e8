DROP TABLE pending_actions;
