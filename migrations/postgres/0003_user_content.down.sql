DROP TABLE "Settings";
DROP TABLE "Message";
DROP TABLE "File";
DROP TABLE "Notification";
