DROP TABLE mail_pace;
