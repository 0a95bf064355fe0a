-- Triggers (webhook and event) and every delivery with what became of it;
-- the depth of a run in a chain of event triggers.

CREATE TABLE triggers (
    tenant      TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    generation  INTEGER NOT NULL,
    hash        TEXT    NOT NULL,
    body        TEXT    NOT NULL, -- the Trigger as JSON
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
) WITHOUT ROWID;

CREATE TABLE trigger_deliveries (
    tenant      TEXT    NOT NULL,
    trigger     TEXT    NOT NULL,
    source      TEXT    NOT NULL, -- a webhook's signature, or the event
    received_at INTEGER NOT NULL,
    outcome     TEXT    NOT NULL,
    reason      TEXT,
    run_id      TEXT,
    -- One record per source: a replayed signature or event finds it here.
    PRIMARY KEY (tenant, trigger, source)
) WITHOUT ROWID;

CREATE INDEX trigger_deliveries_by_time ON trigger_deliveries (tenant, trigger, received_at);

ALTER TABLE runs ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
