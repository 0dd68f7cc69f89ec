-- A session opened by a script (a login with no browser markers) may write without a CSRF
-- token, as in ERPNext, where the token exists only once the desk has loaded. Browser
-- sessions keep every check. Keep in step with the other backend's 0010_script_sessions.sql.
ALTER TABLE sessions ADD COLUMN script BOOLEAN NOT NULL DEFAULT FALSE;
