-- drizzle-kit does not create extensions; users.email and users.username need citext
CREATE EXTENSION IF NOT EXISTS citext;
