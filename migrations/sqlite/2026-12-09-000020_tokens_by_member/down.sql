DROP INDEX tokens_by_member;
