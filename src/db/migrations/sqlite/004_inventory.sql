-- What hosts of a site run: one row per report (the installed packages of one host at one
-- time). The newest report of a host is its current state; older ones stay as history.
CREATE TABLE deployment_reports (
    id            INTEGER PRIMARY KEY,
    site_id       INTEGER NOT NULL REFERENCES sites(id),
    host          TEXT NOT NULL,
    at            INTEGER NOT NULL,
    package_count INTEGER NOT NULL
);
CREATE INDEX deployment_reports_by_host ON deployment_reports(site_id, host, id);
CREATE INDEX deployment_reports_by_time ON deployment_reports(site_id, at);

CREATE TABLE deployment_packages (
    report_id INTEGER NOT NULL REFERENCES deployment_reports(id),
    name      TEXT NOT NULL,
    epoch     INTEGER NOT NULL,
    version   TEXT NOT NULL,
    release   TEXT NOT NULL,
    arch      TEXT NOT NULL,
    PRIMARY KEY (report_id, name, epoch, version, release, arch)
) WITHOUT ROWID;
