-- E-mail: a site's contact address, and the outbox the mail worker sends from. Messages are
-- queued in the transaction of the state change they tell of, like webhook deliveries.
ALTER TABLE sites ADD COLUMN email TEXT;

CREATE TABLE email_outbox (
    id              INTEGER PRIMARY KEY,
    event           TEXT NOT NULL,
    release_id      INTEGER,
    -- JSON array of addresses.
    recipients      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    sent_at         INTEGER,
    given_up_at     INTEGER,
    last_error      TEXT
);
CREATE INDEX email_outbox_pending ON email_outbox(next_attempt_at) WHERE sent_at IS NULL AND given_up_at IS NULL;

-- A release's references (CVE ids, bug and ticket URLs) for its advisory: JSON array.
ALTER TABLE releases ADD COLUMN refs TEXT NOT NULL DEFAULT '[]';
