DROP TABLE tokens;
DROP TABLE members;
DROP TABLE locals;
DROP TABLE elections;
