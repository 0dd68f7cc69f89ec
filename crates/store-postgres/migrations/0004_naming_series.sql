-- Counters for naming series such as SINV-.##### (one row per prefix).
-- Keep in step with the other backend's 0004.
CREATE TABLE naming_series (
    prefix  TEXT   PRIMARY KEY,
    current BIGINT NOT NULL
);
