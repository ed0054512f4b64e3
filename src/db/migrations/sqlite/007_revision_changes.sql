-- Revisions as differences: each new revision records what it added and removed
-- (revision_changes); its full package set (revision_packages) is written only for a
-- snapshot, when the changes since the previous snapshot outgrow the set. Older revisions
-- keep their full sets and count as snapshots without recorded changes.
ALTER TABLE revisions ADD COLUMN package_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE revisions ADD COLUMN snapshot INTEGER NOT NULL DEFAULT 1;
ALTER TABLE revisions ADD COLUMN has_changes INTEGER NOT NULL DEFAULT 0;
-- Change rows since the newest snapshot at or before this revision, this one's included.
ALTER TABLE revisions ADD COLUMN chain INTEGER NOT NULL DEFAULT 0;
UPDATE revisions SET package_count = (SELECT COUNT(*) FROM revision_packages p WHERE p.revision_id = revisions.id);

CREATE TABLE revision_changes (
    revision_id INTEGER NOT NULL REFERENCES revisions(id),
    sha256      TEXT NOT NULL REFERENCES packages(sha256),
    added       INTEGER NOT NULL,
    PRIMARY KEY (revision_id, sha256)
);
CREATE INDEX revisions_snapshots ON revisions (dist, repo, snapshot, number);
