-- Login attempts are reserved before the password is checked (outcome 'pending'), then
-- settled as 'failed' or 'throttled'; a success deletes its row. Counting per account and
-- address pair keeps one client's failures from locking the account for everyone.
-- Keep in step with the other backend's 0009_login_attempts.sql.
ALTER TABLE login_failures ADD COLUMN outcome TEXT NOT NULL DEFAULT 'failed'
    CHECK (outcome IN ('pending', 'failed', 'throttled'));
CREATE INDEX login_failures_pair ON login_failures (account, ip, at);
