-- Files attached to documents (ERPNext's File). The bytes live in the site's files/
-- folder, named by their SHA-256; this table says who may see them.
-- Keep in step with the other backend's 0005.
CREATE TABLE files (
    name                TEXT    PRIMARY KEY,
    file_name           TEXT    NOT NULL,
    is_private          INTEGER NOT NULL,
    attached_to_doctype TEXT,
    attached_to_name    TEXT,
    file_size           BIGINT  NOT NULL,
    content_sha256      TEXT    NOT NULL,
    owner               TEXT    NOT NULL,
    creation            BIGINT  NOT NULL
);
CREATE UNIQUE INDEX files_by_url ON files (is_private, file_name);
CREATE INDEX files_attached ON files (attached_to_doctype, attached_to_name);
