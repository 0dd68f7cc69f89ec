-- The alert inbox (issue 17): alerts with their evidence and history as JSON (body), the
-- suppressions, the notices that could not be delivered, and how far the rules have read
-- the log. One open alert per (rule, user, window): the partial unique index makes a
-- second one impossible, whichever server raises it.
-- Keep in step with the other backend's 0011_alerts.sql.
CREATE TABLE alerts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    rule         TEXT    NOT NULL,
    user_email   TEXT    NOT NULL,
    window_start INTEGER NOT NULL,
    severity     INTEGER NOT NULL CHECK (severity BETWEEN 0 AND 3),
    state        TEXT    NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved', 'dismissed')),
    shadow       INTEGER NOT NULL CHECK (shadow IN (0, 1)),
    opened_at    INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    body         TEXT    NOT NULL
);
CREATE UNIQUE INDEX alerts_open_key ON alerts (rule, user_email, window_start)
    WHERE state IN ('open', 'acknowledged');
CREATE INDEX alerts_by_user ON alerts (user_email, id);

CREATE TABLE alert_suppressions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    rule       TEXT,
    user_email TEXT,
    owner      TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE alert_dead_letters (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    channel    TEXT    NOT NULL,
    alert_id   INTEGER NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT    NOT NULL,
    at         INTEGER NOT NULL
);

CREATE TABLE alerts_cursor (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq   INTEGER NOT NULL,
    started_at INTEGER NOT NULL
);
