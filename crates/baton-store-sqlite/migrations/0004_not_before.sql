-- A run recorded ahead of its time (a schedule's fire, recorded just before
-- it is due) does not start before this instant, even after a restart.
ALTER TABLE runs ADD COLUMN not_before INTEGER;
