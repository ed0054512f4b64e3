-- Rollout on evidence: what a release needs, fixed at its announcement like its deadlines.
ALTER TABLE releases ADD COLUMN min_deployed_sites INTEGER NOT NULL DEFAULT 0;
ALTER TABLE release_sites ADD COLUMN grace_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE release_sites ADD COLUMN declined_at INTEGER;
ALTER TABLE release_sites ADD COLUMN declined_reason TEXT;
