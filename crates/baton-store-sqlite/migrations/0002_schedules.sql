-- Schedules and every due time with what became of it.

CREATE TABLE schedules (
    tenant      TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    generation  INTEGER NOT NULL,
    hash        TEXT    NOT NULL,
    body        TEXT    NOT NULL, -- the Schedule as JSON
    paused      INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    last_due    INTEGER,          -- the latest due time dealt with
    executions  INTEGER NOT NULL DEFAULT 0,
    last_run    TEXT,
    PRIMARY KEY (tenant, name)
) WITHOUT ROWID;

CREATE TABLE schedule_fires (
    tenant      TEXT    NOT NULL,
    schedule    TEXT    NOT NULL,
    due_at      INTEGER NOT NULL,
    outcome     TEXT    NOT NULL,
    reason      TEXT,
    run_id      TEXT,
    count       INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    -- One record per due time: whichever node records it first wins.
    PRIMARY KEY (tenant, schedule, due_at)
) WITHOUT ROWID;
