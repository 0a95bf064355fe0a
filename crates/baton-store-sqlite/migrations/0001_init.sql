-- Times are microseconds since the Unix epoch, UTC.

CREATE TABLE workflow_versions (
    tenant     TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    hash       TEXT    NOT NULL,
    body       TEXT    NOT NULL, -- the Workflow as JSON
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, name, version)
) WITHOUT ROWID;

CREATE TABLE runs (
    id               TEXT    NOT NULL PRIMARY KEY, -- UUIDv7: ordered by creation
    tenant           TEXT    NOT NULL,
    workflow         TEXT    NOT NULL,
    version          INTEGER NOT NULL,
    state            TEXT    NOT NULL,
    inputs           TEXT    NOT NULL,
    trigger          TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    deadline_at      INTEGER,
    reason           TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    ending           TEXT -- while compensating: the terminal state it heads for
);

CREATE INDEX runs_unfinished ON runs (state)
    WHERE state NOT IN ('succeeded', 'failed', 'cancelled', 'timed_out');
CREATE INDEX runs_by_workflow ON runs (tenant, workflow, id);

CREATE TABLE steps (
    run_id        TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key           TEXT    NOT NULL,
    step_id       TEXT    NOT NULL,
    idx           INTEGER,
    phase         TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    attempt       INTEGER NOT NULL,
    failures      INTEGER NOT NULL,
    item          TEXT,
    wake_at       INTEGER,
    started_at    INTEGER,
    attempt_started_at INTEGER,
    finished_at   INTEGER,
    outputs       TEXT,
    exit_code     INTEGER,
    stdout_tail   TEXT,
    stderr_tail   TEXT,
    reason        TEXT,
    completed_seq INTEGER,
    UNIQUE (run_id, key)
);

CREATE TABLE attempts (
    run_id      TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key         TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    exit_code   INTEGER,
    reason      TEXT,
    PRIMARY KEY (run_id, key, attempt)
) WITHOUT ROWID;

CREATE TABLE logs (
    run_id          TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key             TEXT    NOT NULL,
    attempt         INTEGER NOT NULL,
    text            TEXT    NOT NULL,
    truncated_bytes INTEGER NOT NULL,
    PRIMARY KEY (run_id, key, attempt)
) WITHOUT ROWID;
