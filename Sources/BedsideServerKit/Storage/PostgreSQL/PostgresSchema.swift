/// The server's schema in PostgreSQL: the same tables as SQLite's (`ServerMigrations`) at its newest
/// version, written for PostgreSQL from the start (a PostgreSQL database has no older history to carry).
///
/// Differences from SQLite, each on purpose: every integer is a BIGINT (times in milliseconds, counts);
/// bytes are BYTEA; text keys compare byte by byte (`COLLATE "C"`, as SQLite does), so paging in id
/// order is the same on both; `data_key` and `security_watch` hold one row each. The audit trail's and
/// the change feed's `seq` are counted in `sequence_counter` by the writer, under the store's write lock,
/// not by a PostgreSQL sequence: a sequence hands out numbers in the order transactions start, not the
/// order they commit, and a reader of the feed after `seq` N must never find an N-1 committed later; the
/// counter also never goes back when the feed's oldest rows are dropped (SQLite's AUTOINCREMENT). Future steps
/// are appended with the next version: never edit a step that has shipped.
enum PostgresSchema {
    static let migrations: [PostgresMigration] = [
        PostgresMigration(
            version: 1, name: "accounts, sessions, resources, audit, clients, jobs, retention, alerts",
            statements: [
                """
                CREATE TABLE data_key (
                    id BIGINT PRIMARY KEY CHECK (id = 1),
                    wrapped BYTEA NOT NULL,
                    master_fingerprint TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    rewrapped_at BIGINT)
                """,
                """
                CREATE TABLE account (
                    id TEXT COLLATE "C" PRIMARY KEY,
                    email BYTEA NOT NULL,
                    email_index TEXT COLLATE "C" NOT NULL UNIQUE,
                    role TEXT NOT NULL,
                    password_hash TEXT NOT NULL,
                    display_name BYTEA NOT NULL,
                    patient_id TEXT COLLATE "C" UNIQUE,
                    practitioner_id TEXT COLLATE "C" UNIQUE,
                    created_at BIGINT NOT NULL,
                    disabled_at BIGINT,
                    language TEXT)
                """,
                """
                CREATE TABLE login_throttle (
                    key TEXT COLLATE "C" PRIMARY KEY,
                    failures BIGINT NOT NULL,
                    checking BIGINT NOT NULL DEFAULT 0,
                    locked_until BIGINT,
                    updated_at BIGINT NOT NULL DEFAULT 0)
                """,
                """
                CREATE TABLE login_challenge (
                    id TEXT COLLATE "C" PRIMARY KEY,
                    account_id TEXT COLLATE "C" NOT NULL REFERENCES account(id) ON DELETE CASCADE,
                    code_hash TEXT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    attempts_left BIGINT NOT NULL)
                """,
                "CREATE INDEX login_challenge_account ON login_challenge(account_id)",
                "CREATE INDEX login_challenge_expires ON login_challenge(expires_at)",
                """
                CREATE TABLE session (
                    token_hash TEXT COLLATE "C" PRIMARY KEY,
                    account_id TEXT COLLATE "C" NOT NULL REFERENCES account(id) ON DELETE CASCADE,
                    created_at BIGINT NOT NULL,
                    last_seen_at BIGINT NOT NULL,
                    revoked_at BIGINT)
                """,
                "CREATE INDEX session_account ON session(account_id)",
                "CREATE INDEX session_created ON session(created_at)",
                """
                CREATE TABLE care_team_member (
                    clinician_account_id TEXT COLLATE "C" NOT NULL REFERENCES account(id) ON DELETE CASCADE,
                    patient_id TEXT COLLATE "C" NOT NULL,
                    PRIMARY KEY (clinician_account_id, patient_id))
                """,
                "CREATE INDEX care_team_patient ON care_team_member(patient_id)",
                """
                CREATE TABLE resource (
                    pk BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    type TEXT COLLATE "C" NOT NULL,
                    id TEXT COLLATE "C" NOT NULL,
                    version BIGINT NOT NULL,
                    last_updated BIGINT NOT NULL,
                    patient_id TEXT COLLATE "C",
                    status TEXT COLLATE "C",
                    date BIGINT,
                    priority BIGINT,
                    json BYTEA NOT NULL,
                    UNIQUE (type, id))
                """,
                "CREATE INDEX resource_patient_date ON resource(type, patient_id, date)",
                "CREATE INDEX resource_last_updated ON resource(type, last_updated)",
                """
                CREATE TABLE resource_history (
                    type TEXT COLLATE "C" NOT NULL,
                    id TEXT COLLATE "C" NOT NULL,
                    version BIGINT NOT NULL,
                    last_updated BIGINT NOT NULL,
                    json BYTEA NOT NULL,
                    PRIMARY KEY (type, id, version))
                """,
                """
                CREATE TABLE resource_code (
                    resource_pk BIGINT NOT NULL REFERENCES resource(pk) ON DELETE CASCADE,
                    system TEXT COLLATE "C" NOT NULL,
                    code TEXT COLLATE "C" NOT NULL,
                    PRIMARY KEY (resource_pk, code, system))
                """,
                "CREATE INDEX resource_code_code ON resource_code(code, system)",
                """
                CREATE TABLE resource_category (
                    resource_pk BIGINT NOT NULL REFERENCES resource(pk) ON DELETE CASCADE,
                    system TEXT COLLATE "C" NOT NULL,
                    code TEXT COLLATE "C" NOT NULL,
                    PRIMARY KEY (resource_pk, code, system))
                """,
                """
                CREATE TABLE resource_identifier (
                    type TEXT COLLATE "C" NOT NULL,
                    patient_key TEXT COLLATE "C" NOT NULL,
                    system TEXT COLLATE "C" NOT NULL,
                    value TEXT COLLATE "C" NOT NULL,
                    resource_pk BIGINT NOT NULL REFERENCES resource(pk) ON DELETE CASCADE,
                    PRIMARY KEY (type, patient_key, system, value))
                """,
                "CREATE INDEX resource_identifier_pk ON resource_identifier(resource_pk)",
                """
                CREATE TABLE audit_event (
                    seq BIGINT PRIMARY KEY,
                    at BIGINT NOT NULL,
                    actor_id TEXT COLLATE "C",
                    actor_role TEXT COLLATE "C",
                    action TEXT COLLATE "C" NOT NULL,
                    resource_type TEXT COLLATE "C",
                    resource_id TEXT COLLATE "C",
                    patient_id TEXT COLLATE "C",
                    outcome TEXT NOT NULL,
                    http_status BIGINT NOT NULL,
                    remote_address TEXT,
                    request TEXT,
                    prev_mac BYTEA,
                    mac BYTEA)
                """,
                "CREATE INDEX audit_event_at ON audit_event(at)",
                "CREATE INDEX audit_event_clinician ON audit_event(actor_id, at) WHERE actor_role = 'clinician'",
                "CREATE INDEX audit_event_system ON audit_event(actor_id, action, resource_type, at) WHERE actor_role = 'system'",
                """
                CREATE TABLE backend_client (
                    id TEXT COLLATE "C" PRIMARY KEY,
                    name TEXT NOT NULL,
                    jwks TEXT NOT NULL,
                    scopes TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    disabled_at BIGINT)
                """,
                """
                CREATE TABLE client_token (
                    token_hash TEXT COLLATE "C" PRIMARY KEY,
                    client_id TEXT COLLATE "C" NOT NULL REFERENCES backend_client(id) ON DELETE CASCADE,
                    scopes TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL)
                """,
                "CREATE INDEX client_token_client ON client_token(client_id)",
                """
                CREATE TABLE client_assertion (
                    client_id TEXT COLLATE "C" NOT NULL,
                    jti TEXT COLLATE "C" NOT NULL,
                    expires_at BIGINT NOT NULL,
                    PRIMARY KEY (client_id, jti))
                """,
                """
                CREATE TABLE enrolment (
                    account_id TEXT COLLATE "C" PRIMARY KEY REFERENCES account(id) ON DELETE CASCADE,
                    code_hash TEXT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE resource_change (
                    seq BIGINT PRIMARY KEY,
                    type TEXT COLLATE "C" NOT NULL,
                    id TEXT COLLATE "C" NOT NULL,
                    version BIGINT NOT NULL,
                    at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE subscription_state (
                    subscription_id TEXT COLLATE "C" PRIMARY KEY,
                    client_id TEXT COLLATE "C" NOT NULL,
                    cursor BIGINT NOT NULL,
                    failures BIGINT NOT NULL DEFAULT 0,
                    next_attempt_at BIGINT NOT NULL DEFAULT 0,
                    last_error TEXT,
                    events BIGINT NOT NULL DEFAULT 0)
                """,
                """
                CREATE TABLE export_job (
                    id TEXT COLLATE "C" PRIMARY KEY,
                    client_id TEXT COLLATE "C" NOT NULL,
                    request BYTEA NOT NULL,
                    status TEXT COLLATE "C" NOT NULL,
                    created_at BIGINT NOT NULL,
                    transaction_time BIGINT NOT NULL,
                    finished_at BIGINT,
                    expires_at BIGINT,
                    progress TEXT,
                    manifest BYTEA,
                    error TEXT)
                """,
                "CREATE INDEX export_job_status ON export_job(status, created_at)",
                "CREATE INDEX export_job_client ON export_job(client_id)",
                """
                CREATE TABLE care_end (
                    patient_id TEXT COLLATE "C" PRIMARY KEY,
                    ended_at BIGINT NOT NULL,
                    source TEXT NOT NULL)
                """,
                "CREATE INDEX care_end_at ON care_end(ended_at)",
                """
                CREATE TABLE security_alert (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    rule TEXT COLLATE "C" NOT NULL,
                    subject TEXT COLLATE "C" NOT NULL,
                    hour BIGINT NOT NULL,
                    count BIGINT NOT NULL,
                    threshold BIGINT NOT NULL,
                    detail TEXT NOT NULL,
                    raised_at BIGINT NOT NULL,
                    mailed_at BIGINT,
                    UNIQUE (rule, subject, hour))
                """,
                """
                CREATE TABLE security_alert_mail (
                    alert_id BIGINT NOT NULL REFERENCES security_alert(id) ON DELETE CASCADE,
                    account_id TEXT COLLATE "C" NOT NULL,
                    attempted_at BIGINT NOT NULL,
                    mailed_at BIGINT,
                    PRIMARY KEY (alert_id, account_id))
                """,
                """
                CREATE TABLE sequence_counter (
                    name TEXT COLLATE "C" PRIMARY KEY,
                    value BIGINT NOT NULL)
                """,
                "INSERT INTO sequence_counter (name, value) VALUES ('audit_event', 0), ('resource_change', 0)",
                """
                CREATE TABLE security_watch (
                    id BIGINT PRIMARY KEY CHECK (id = 1),
                    until_hour BIGINT NOT NULL)
                """,
            ]),
        PostgresMigration(
            version: 2, name: "each run of an export job named, so a run that was replaced cannot finish it (SQLite v16)",
            statements: ["ALTER TABLE export_job ADD COLUMN attempt TEXT COLLATE \"C\""]),
        PostgresMigration(
            version: 3, name: "each resource's codes and categories on its own row, for a patient's searches by code",
            statements: [
                "ALTER TABLE resource ADD COLUMN codes TEXT[] NOT NULL DEFAULT '{}'",
                "ALTER TABLE resource ADD COLUMN categories TEXT[] NOT NULL DEFAULT '{}'",
                // The words of `PostgresStoreSession.codeWords` (lengths in UTF-8 bytes, as Swift counts them), for
                // what was stored before.
                """
                UPDATE resource r SET codes = ARRAY(
                    SELECT w FROM resource_code t, LATERAL (VALUES ('c' || t.code), ('y' || t.system),
                        ('s' || octet_length(convert_to(t.system, 'UTF8')) || ':' || t.system || t.code)) v(w)
                    WHERE t.resource_pk = r.pk)
                WHERE EXISTS (SELECT 1 FROM resource_code t WHERE t.resource_pk = r.pk)
                """,
                """
                UPDATE resource r SET categories = ARRAY(
                    SELECT w FROM resource_category t, LATERAL (VALUES ('c' || t.code), ('y' || t.system),
                        ('s' || octet_length(convert_to(t.system, 'UTF8')) || ':' || t.system || t.code)) v(w)
                    WHERE t.resource_pk = r.pk)
                WHERE EXISTS (SELECT 1 FROM resource_category t WHERE t.resource_pk = r.pk)
                """,
            ]),
        PostgresMigration(
            version: 4, name: "a patient's resources by date in the order searches ask for, newest first with no date last",
            statements: [
                // Searches sort `date DESC NULLS LAST, pk` (newest first, the default for Observations) or
                // `date ASC NULLS FIRST`: the plain index's order (ASC NULLS LAST) matches neither, so each page
                // read and sorted every match of the patient. This one is read forwards for the first and
                // backwards for the second; it replaces the plain one (date ranges use either).
                "CREATE INDEX resource_patient_date_desc ON resource(type, patient_id, date DESC NULLS LAST, pk)",
                "DROP INDEX resource_patient_date",
            ]),
        PostgresMigration(
            version: 5, name: "password-check budgets in the database, shared by every instance",
            statements: [
                "CREATE TABLE login_budget_use (key TEXT COLLATE \"C\" NOT NULL, at BIGINT NOT NULL)",
                "CREATE INDEX login_budget_use_key ON login_budget_use(key, at)",
                "CREATE INDEX login_budget_use_at ON login_budget_use(at)",
            ]),
    ]
}
