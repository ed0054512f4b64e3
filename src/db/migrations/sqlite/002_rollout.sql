ALTER TABLE releases ADD COLUMN announced_at INTEGER;
ALTER TABLE releases ADD COLUMN forced INTEGER NOT NULL DEFAULT 0;

CREATE TABLE elements (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    team_id     INTEGER NOT NULL REFERENCES teams(id),
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);

-- A package name belongs to one element, bound by the element's first release naming it.
CREATE TABLE element_packages (
    name       TEXT PRIMARY KEY,
    element_id INTEGER NOT NULL REFERENCES elements(id)
);

CREATE TABLE sites (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    contact        TEXT,
    webhook        TEXT,
    token_hash     TEXT NOT NULL UNIQUE,
    webhook_secret TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);

CREATE TABLE rollouts (
    element_id  INTEGER NOT NULL REFERENCES elements(id),
    site_id     INTEGER NOT NULL REFERENCES sites(id),
    sla_seconds INTEGER NOT NULL,
    PRIMARY KEY (element_id, site_id)
);

-- The rollout sites and SLAs a release was announced to: later assignment changes do not
-- move a running release's deadlines.
CREATE TABLE release_sites (
    release_id  INTEGER NOT NULL REFERENCES releases(id),
    site_id     INTEGER NOT NULL REFERENCES sites(id),
    sla_seconds INTEGER NOT NULL,
    PRIMARY KEY (release_id, site_id)
);

CREATE TABLE release_events (
    id         INTEGER PRIMARY KEY,
    release_id INTEGER NOT NULL REFERENCES releases(id),
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    from_state TEXT,
    to_state   TEXT NOT NULL,
    reason     TEXT NOT NULL
);

CREATE TABLE reports (
    id         INTEGER PRIMARY KEY,
    release_id INTEGER NOT NULL REFERENCES releases(id),
    site_id    INTEGER NOT NULL REFERENCES sites(id),
    result     TEXT NOT NULL,
    text       TEXT NOT NULL,
    at         INTEGER NOT NULL,
    late       INTEGER NOT NULL
);

CREATE TABLE problems (
    id            INTEGER PRIMARY KEY,
    release_id    INTEGER NOT NULL REFERENCES releases(id),
    site_id       INTEGER NOT NULL REFERENCES sites(id),
    text          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    criticality   TEXT,
    priority      INTEGER,
    open          INTEGER NOT NULL DEFAULT 1,
    closed_reason TEXT,
    closed_at     INTEGER
);
CREATE INDEX problems_by_release ON problems(release_id);

CREATE TABLE feed_entries (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    release_id INTEGER NOT NULL REFERENCES releases(id),
    title      TEXT NOT NULL,
    content    TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    site_id         INTEGER NOT NULL REFERENCES sites(id),
    event           TEXT NOT NULL,
    url             TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    delivered_at    INTEGER,
    given_up_at     INTEGER
);

CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id),
    at          INTEGER NOT NULL,
    status      INTEGER,
    error       TEXT
);

-- Append-only: nothing updates or deletes an audit row.
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    object  TEXT NOT NULL,
    reason  TEXT NOT NULL DEFAULT '',
    release_id INTEGER
);
CREATE TRIGGER audit_is_append_only_u BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_is_append_only_d BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
