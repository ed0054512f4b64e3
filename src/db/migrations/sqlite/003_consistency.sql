-- Advisory data given at submission, and the critical problems a release fixes.
ALTER TABLE releases ADD COLUMN fixes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE releases ADD COLUMN advisory_type TEXT NOT NULL DEFAULT 'enhancement';
ALTER TABLE releases ADD COLUMN severity TEXT;
ALTER TABLE releases ADD COLUMN fast_track_seconds INTEGER;

-- OpenPGP key ids of the signatures an upload carries, and whether one is its team's.
ALTER TABLE packages ADD COLUMN signature_key_ids TEXT NOT NULL DEFAULT '';
ALTER TABLE packages ADD COLUMN signed_by_team INTEGER NOT NULL DEFAULT 0;

CREATE TABLE team_keys (
    id          INTEGER PRIMARY KEY,
    team_id     INTEGER NOT NULL REFERENCES teams(id),
    fingerprint TEXT NOT NULL,
    key_ids     TEXT NOT NULL,
    armored     TEXT NOT NULL,
    added_at    INTEGER NOT NULL,
    UNIQUE (team_id, fingerprint)
);

-- One advisory per promotion, listed in production's updateinfo.xml.
CREATE TABLE advisories (
    id         TEXT PRIMARY KEY,
    release_id INTEGER NOT NULL UNIQUE REFERENCES releases(id),
    dist       TEXT NOT NULL,
    year       INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    issued     INTEGER NOT NULL,
    updated    INTEGER NOT NULL,
    UNIQUE (dist, year, seq)
);

-- Base repositories (the OS, EPEL) a distribution's middleware may depend on.
CREATE TABLE base_repos (
    dist        TEXT NOT NULL,
    name        TEXT NOT NULL,
    source      TEXT NOT NULL,
    imported_at INTEGER NOT NULL,
    packages    INTEGER NOT NULL,
    PRIMARY KEY (dist, name)
);
