CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE teams (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- One row per uploaded RPM. The XML fragments are rendered once, at upload, so that
-- publication never re-reads a header.
CREATE TABLE packages (
    sha256        TEXT PRIMARY KEY,
    filename      TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    epoch         INTEGER NOT NULL,
    version       TEXT NOT NULL,
    release       TEXT NOT NULL,
    arch          TEXT NOT NULL,
    size          INTEGER NOT NULL,
    uploaded_by   INTEGER REFERENCES teams(id),
    uploaded_at   INTEGER NOT NULL,
    meta          TEXT NOT NULL,
    primary_xml   TEXT NOT NULL,
    filelists_xml TEXT NOT NULL,
    other_xml     TEXT NOT NULL,
    UNIQUE (name, epoch, version, release, arch)
);
CREATE INDEX packages_by_name ON packages(name);

CREATE TABLE releases (
    id         INTEGER PRIMARY KEY,
    dist       TEXT NOT NULL,
    element    TEXT NOT NULL,
    version    TEXT NOT NULL,
    team_id    INTEGER NOT NULL REFERENCES teams(id),
    notes      TEXT NOT NULL DEFAULT '',
    state      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (dist, element, version)
);

CREATE TABLE release_packages (
    release_id INTEGER NOT NULL REFERENCES releases(id),
    sha256     TEXT NOT NULL REFERENCES packages(sha256),
    PRIMARY KEY (release_id, sha256)
);

-- Every publication of a repository, with its exact package set.
CREATE TABLE revisions (
    id              INTEGER PRIMARY KEY,
    dist            TEXT NOT NULL,
    repo            TEXT NOT NULL,
    number          INTEGER NOT NULL,
    repomd_revision INTEGER NOT NULL,
    repomd_sha256   TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    actor           TEXT NOT NULL,
    reason          TEXT NOT NULL,
    UNIQUE (dist, repo, number)
);

CREATE TABLE revision_packages (
    revision_id INTEGER NOT NULL REFERENCES revisions(id),
    sha256      TEXT NOT NULL REFERENCES packages(sha256),
    PRIMARY KEY (revision_id, sha256)
);
