-- The catalogue's tables on PostgreSQL: the SQLite catalogue's tables
-- (directory/catalog.rs and the modules' SCHEMA constants), column for
-- column, as `directory/sql.rs` reads them: INTEGER as BIGINT (booleans
-- included, 0 or 1), BLOB as BYTEA, REAL as DOUBLE PRECISION. The suite's
-- `postgres_catalogue` test compares the two column by column.
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    organisation TEXT NOT NULL,
    planned_start BIGINT NOT NULL,
    planned_end BIGINT NOT NULL,
    time_zone TEXT NOT NULL,
    sponsor TEXT,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    media TEXT,
    cancelled_at BIGINT
);
CREATE TABLE IF NOT EXISTS actions (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    nature TEXT NOT NULL,
    planned_minutes BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS beneficiaries (
    id TEXT PRIMARY KEY,
    action_id TEXT NOT NULL REFERENCES actions(id),
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    employer TEXT,
    lang TEXT,
    time_zone TEXT
);
CREATE INDEX IF NOT EXISTS beneficiaries_by_action ON beneficiaries(action_id, position);
CREATE TABLE IF NOT EXISTS people (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    role TEXT NOT NULL,
    lang TEXT,
    time_zone TEXT,
    beneficiary_id TEXT REFERENCES beneficiaries(id)
);
CREATE INDEX IF NOT EXISTS people_by_session ON people(session_id, position);
CREATE INDEX IF NOT EXISTS people_by_beneficiary ON people(beneficiary_id);
CREATE TABLE IF NOT EXISTS links (
    jti TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id),
    session_id TEXT NOT NULL REFERENCES sessions(id),
    not_before BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    revoked_at BIGINT,
    seal BYTEA
);
CREATE INDEX IF NOT EXISTS links_by_person ON links(person_id, issued_at);
CREATE TABLE IF NOT EXISTS reports (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    author_id TEXT NOT NULL REFERENCES people(id),
    text TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    answer TEXT,
    answered_at BIGINT,
    closed_at BIGINT,
    filed_seq BIGINT
);
CREATE INDEX IF NOT EXISTS reports_by_session ON reports(session_id, created_at);

CREATE TABLE IF NOT EXISTS organisation (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    name TEXT,
    representative_name TEXT,
    representative_quality TEXT,
    address TEXT,
    siret TEXT,
    nda TEXT,
    place TEXT,
    signature BYTEA,
    signature_type TEXT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS action_sessions (
    session_id TEXT PRIMARY KEY REFERENCES sessions(id),
    action_id TEXT NOT NULL REFERENCES actions(id)
);
CREATE INDEX IF NOT EXISTS sessions_by_action ON action_sessions(action_id);
CREATE TABLE IF NOT EXISTS action_changes (
    id TEXT PRIMARY KEY,
    action_id TEXT NOT NULL REFERENCES actions(id),
    beneficiary_id TEXT NOT NULL REFERENCES beneficiaries(id),
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    by TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_beneficiary ON action_changes(beneficiary_id, at);

CREATE TABLE IF NOT EXISTS questionnaires (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    questions TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS questionnaire_uses (
    target TEXT NOT NULL,
    at TEXT NOT NULL,
    questionnaire TEXT NOT NULL REFERENCES questionnaires(id),
    PRIMARY KEY (target, at)
);
CREATE TABLE IF NOT EXISTS questionnaire_invitations (
    id TEXT PRIMARY KEY,
    questionnaire TEXT NOT NULL REFERENCES questionnaires(id),
    scope TEXT NOT NULL,
    who TEXT NOT NULL,
    session_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    invited_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    answered BIGINT NOT NULL DEFAULT 0,
    UNIQUE (questionnaire, scope, who)
);
CREATE INDEX IF NOT EXISTS invitations_by_person ON questionnaire_invitations(session_id, person_id);
-- No key on purpose: an answer is not tied to anyone, nor to its order.
CREATE TABLE IF NOT EXISTS questionnaire_answers (
    questionnaire TEXT NOT NULL REFERENCES questionnaires(id),
    scope TEXT NOT NULL,
    answers TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_by_scope ON questionnaire_answers(questionnaire, scope);

CREATE TABLE IF NOT EXISTS mails (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    person_id TEXT NOT NULL REFERENCES people(id),
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    occasion TEXT,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt BIGINT NOT NULL,
    last_error TEXT,
    smtp_reply TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX IF NOT EXISTS mails_by_session ON mails(session_id, created_at);
CREATE INDEX IF NOT EXISTS mails_due ON mails(state, next_attempt);
CREATE UNIQUE INDEX IF NOT EXISTS mails_once ON mails(person_id, kind, occasion);

CREATE TABLE IF NOT EXISTS staff (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('administrator', 'coordinator')),
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT,
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT
);
CREATE TABLE IF NOT EXISTS staff_sessions (
    id_hash BYTEA PRIMARY KEY,
    staff_id TEXT NOT NULL REFERENCES staff(id),
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS staff_sessions_by_staff ON staff_sessions(staff_id);
-- BY DEFAULT, not ALWAYS: an import from a SQLite catalogue keeps each
-- entry's number.
CREATE TABLE IF NOT EXISTS staff_audit (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    staff_id TEXT,
    email TEXT,
    action TEXT NOT NULL,
    target TEXT,
    address TEXT
);

-- What the SQLite triggers keep, kept here too: the article 2.1.7 changes
-- and the staff audit log are never rewritten (cadre_append_only() is
-- created by the migration before any part).
CREATE OR REPLACE TRIGGER action_changes_kept
    BEFORE UPDATE OR DELETE ON action_changes
    FOR EACH ROW EXECUTE FUNCTION cadre_append_only();
CREATE OR REPLACE TRIGGER action_changes_not_truncated
    BEFORE TRUNCATE ON action_changes
    FOR EACH STATEMENT EXECUTE FUNCTION cadre_append_only();
CREATE OR REPLACE TRIGGER staff_audit_kept
    BEFORE UPDATE OR DELETE ON staff_audit
    FOR EACH ROW EXECUTE FUNCTION cadre_append_only();
CREATE OR REPLACE TRIGGER staff_audit_not_truncated
    BEFORE TRUNCATE ON staff_audit
    FOR EACH STATEMENT EXECUTE FUNCTION cadre_append_only();
