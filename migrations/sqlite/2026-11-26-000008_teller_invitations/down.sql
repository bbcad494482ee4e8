DROP TABLE teller_invitations;
