import BedsideCore
import Crypto
import Foundation
import GRDB

/// The embedded store: one SQLite file in the data directory, in WAL mode with synchronous commits,
/// so that a write the server has acknowledged survives `kill -9` (and a power cut). Resource bodies and
/// personal fields are sealed under the database's data key (`StoreKeys`); deleted content is
/// overwritten (`secure_delete`), so what was erased is not left in free pages.
public final class SQLiteServerStore: ServerStore {
    private let pool: DatabasePool
    public let keys: StoreKeys
    private let busyTimeoutSeconds: Double

    /// Opens (creating and migrating when needed) the database at `path`, after its data key was
    /// unwrapped with the master key (a wrong or missing key: nothing is changed). A write that waits
    /// longer than `busyTimeoutSeconds` for another writer fails (the client gets a 500 and tries again later).
    public init(path: String, encryption: StoreEncryption, busyTimeoutSeconds: Double = 10) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        configuration.busyMode = .timeout(busyTimeoutSeconds)
        self.busyTimeoutSeconds = busyTimeoutSeconds
        configuration.maximumReaderCount = 8
        pool = try DatabasePool(path: path, configuration: configuration)
        let opened = try DataKeyRecord.keys(in: pool, encryption: encryption)
        let migrator = ServerMigrations.migrator(keys: opened.keys, newDataKey: opened.newWrap)
        let sealsExistingData = try pool.read { db in
            let applied = try migrator.appliedIdentifiers(db)
            return !applied.isEmpty && !applied.contains(ServerMigrations.encryptionAtRest)
        }
        try migrator.migrate(pool)
        if opened.newWrap == nil {
            keys = opened.keys
        } else {
            // Two processes may have made a data key for the same new database at once: the stored one wins.
            let stored = try DataKeyRecord.keys(in: pool, encryption: encryption)
            // Still none stored: a database made as the benchmark's plaintext baseline.
            guard stored.newWrap == nil else { throw StoreEncryptionError.plaintextBaselineOnEncryptedStore }
            keys = stored.keys
        }
        if sealsExistingData {
            // What was stored in clear before v12 is still in free pages and the WAL: rewrite the file.
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "VACUUM")
                try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
        }
    }

    public func read<T: Sendable>(_ work: @escaping @Sendable (any StoreReading) throws -> T) async throws -> T {
        let keys = keys
        return try await pool.read { db in try work(SQLiteStoreSession(db: db, keys: keys)) }
    }

    public func write<T: Sendable>(_ work: @escaping @Sendable (any StoreWriting) throws -> T) async throws -> T {
        let keys = keys
        return try await pool.write { db in try work(SQLiteStoreSession(db: db, keys: keys)) }
    }

    /// Synchronous write for command-line tools and bulk loading, which have no event loop to protect.
    public func writeNow<T>(_ work: (any StoreWriting) throws -> T) throws -> T {
        try pool.write { db in try work(SQLiteStoreSession(db: db, keys: keys)) }
    }

    /// Synchronous read for command-line tools.
    public func readNow<T>(_ work: (any StoreReading) throws -> T) throws -> T {
        try pool.read { db in try work(SQLiteStoreSession(db: db, keys: keys)) }
    }

    public func close() throws {
        try pool.close()
    }

    /// The pool's close already waits for the reads and writes under way.
    public func shutdown() async throws {
        try close()
    }

    /// Deleted rows are overwritten in the pages that held them (`secure_delete`); the copies of those
    /// pages in the WAL go when it is checkpointed and truncated, which needs the readers of older pages
    /// gone. Each try gives up at once when they are not (no busy wait while holding the write lock, so
    /// writers go on between tries); after about 20 s of tries, the next checkpoint finishes it.
    @discardableResult
    public func removeDeletedData() async throws -> DeletedDataRemoval {
        let busyTimeout = Int((busyTimeoutSeconds * 1000).rounded())
        for attempt in 0..<50 {
            let busy = try await pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA busy_timeout = 0")
                defer { try? db.execute(sql: "PRAGMA busy_timeout = \(busyTimeout)") }
                return try Int.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") ?? 0
            }
            if busy == 0 { return .removed }
            try await Task.sleep(for: .milliseconds(min(500, 20 * (attempt + 1))))
        }
        return .later
    }

    /// One process serves a SQLite file: it runs every scheduled job.
    public func leads(_ job: ScheduledJob) async -> Bool { true }

    /// Drops indexes, for a benchmark's baseline store only (what an index costs on the writes).
    public func dropIndexesForBenchmark(_ names: [String]) throws {
        try pool.write { db in
            for name in names where name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                try db.execute(sql: "DROP INDEX IF EXISTS \(name)")
            }
        }
    }

    /// Runs `PRAGMA integrity_check`; "ok" when the file is sound.
    public func integrityCheck() throws -> String {
        try pool.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "no answer" }
    }

    /// Wraps the data key under `newMaster` instead of `oldMaster`, in one transaction (the data itself
    /// is not written again: rotating the master key takes a moment whatever the store's size).
    public func rewrapDataKey(from oldMaster: SymmetricKey, to newMaster: SymmetricKey, at time: Int64) throws {
        try DataKeyRecord.rewrap(in: pool, from: oldMaster, to: newMaster, at: time)
    }
}

/// The schema, as named append-only migrations.
enum ServerMigrations {
    static let encryptionAtRest = "v12: encryption at rest: bodies and personal fields sealed, e-mails and throttles blind-indexed"

    /// Every migration; v12 seals what the earlier ones stored in clear, and stores `newDataKey` (wrapped)
    /// when this database has none yet.
    static func migrator(keys: StoreKeys, newDataKey: DataKeyRecord?) -> DatabaseMigrator {
        var migrator = migratorBeforeEncryption
        migrator.registerMigration(encryptionAtRest) { db in
            try sealStoredData(db, keys: keys)
            if let newDataKey { try newDataKey.insert(db) }
        }
        migrator.registerMigration("v13: the audit trail chained: each record holds the MAC of the one before and its own") { db in
            try chainAuditTrail(db, key: keys.audit)
        }
        migrator.registerMigration("v14: when a patient's care ended, for retention") { db in
            // Recorded from this version on; an earlier end of care is recorded with `patient end-care --date`.
            try db.execute(sql: """
                CREATE TABLE care_end (
                    patient_id TEXT PRIMARY KEY,
                    ended_at INTEGER NOT NULL,
                    source TEXT NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX care_end_at ON care_end(ended_at);
                """)
        }
        migrator.registerMigration("v15: alerts about unusual activity, and the audit trail by actor") { db in
            // Only clinicians' records are indexed by actor (their usual hours), and systems' by actor and
            // use (whether a client did this before): patients' own records, most of the trail, are not,
            // which keeps audit writes cheap.
            try db.execute(sql: """
                CREATE INDEX audit_event_clinician ON audit_event(actor_id, at) WHERE actor_role = 'clinician';
                CREATE INDEX audit_event_system ON audit_event(actor_id, action, resource_type, at) WHERE actor_role = 'system';
                CREATE TABLE security_alert (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    rule TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    hour INTEGER NOT NULL,
                    count INTEGER NOT NULL,
                    threshold INTEGER NOT NULL,
                    detail TEXT NOT NULL,
                    raised_at INTEGER NOT NULL,
                    mailed_at INTEGER,
                    UNIQUE (rule, subject, hour)
                );
                CREATE TABLE security_alert_mail (
                    alert_id INTEGER NOT NULL REFERENCES security_alert(id) ON DELETE CASCADE,
                    account_id TEXT NOT NULL,
                    attempted_at INTEGER NOT NULL,
                    mailed_at INTEGER,
                    PRIMARY KEY (alert_id, account_id)
                ) WITHOUT ROWID;
                CREATE TABLE security_watch (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    until_hour INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v16: each run of an export job named, so a run that was replaced cannot finish it") { db in
            try db.execute(sql: "ALTER TABLE export_job ADD COLUMN attempt TEXT")
        }
        migrator.registerMigration("v17: password-check budgets in the database, shared by every instance") { db in
            try db.execute(sql: """
                CREATE TABLE login_budget_use (key TEXT NOT NULL, at INTEGER NOT NULL);
                CREATE INDEX login_budget_use_key ON login_budget_use(key, at);
                CREATE INDEX login_budget_use_at ON login_budget_use(at);
                """)
        }
        return migrator
    }

    /// The migrations of the versions that stored everything in clear (v1 to v11).
    static var migratorBeforeEncryption: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: accounts, sessions, resources, audit") { db in
            try db.execute(sql: """
                CREATE TABLE account (
                    id TEXT PRIMARY KEY,
                    email TEXT NOT NULL UNIQUE,
                    role TEXT NOT NULL,
                    password_hash TEXT NOT NULL,
                    display_name TEXT NOT NULL,
                    patient_id TEXT UNIQUE,
                    practitioner_id TEXT UNIQUE,
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE login_throttle (
                    key TEXT PRIMARY KEY,
                    failures INTEGER NOT NULL,
                    locked_until INTEGER
                );
                CREATE TABLE login_challenge (
                    id TEXT PRIMARY KEY,
                    account_id TEXT NOT NULL REFERENCES account(id) ON DELETE CASCADE,
                    code_hash TEXT NOT NULL,
                    expires_at INTEGER NOT NULL,
                    attempts_left INTEGER NOT NULL
                );
                CREATE TABLE session (
                    token_hash TEXT PRIMARY KEY,
                    account_id TEXT NOT NULL REFERENCES account(id) ON DELETE CASCADE,
                    created_at INTEGER NOT NULL,
                    last_seen_at INTEGER NOT NULL,
                    revoked_at INTEGER
                );
                CREATE INDEX session_account ON session(account_id);
                CREATE TABLE care_team_member (
                    clinician_account_id TEXT NOT NULL REFERENCES account(id) ON DELETE CASCADE,
                    patient_id TEXT NOT NULL,
                    PRIMARY KEY (clinician_account_id, patient_id)
                ) WITHOUT ROWID;
                CREATE INDEX care_team_patient ON care_team_member(patient_id);

                CREATE TABLE resource (
                    pk INTEGER PRIMARY KEY,
                    type TEXT NOT NULL,
                    id TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    last_updated INTEGER NOT NULL,
                    patient_id TEXT,
                    status TEXT,
                    date INTEGER,
                    priority INTEGER,
                    json BLOB NOT NULL,
                    UNIQUE (type, id)
                );
                CREATE INDEX resource_patient_date ON resource(type, patient_id, date);
                CREATE INDEX resource_last_updated ON resource(type, last_updated);
                CREATE TABLE resource_history (
                    type TEXT NOT NULL,
                    id TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    last_updated INTEGER NOT NULL,
                    json BLOB NOT NULL,
                    PRIMARY KEY (type, id, version)
                ) WITHOUT ROWID;
                CREATE TABLE resource_code (
                    resource_pk INTEGER NOT NULL REFERENCES resource(pk) ON DELETE CASCADE,
                    system TEXT NOT NULL,
                    code TEXT NOT NULL,
                    PRIMARY KEY (resource_pk, code, system)
                ) WITHOUT ROWID;
                CREATE TABLE resource_identifier (
                    type TEXT NOT NULL,
                    system TEXT NOT NULL,
                    value TEXT NOT NULL,
                    resource_pk INTEGER NOT NULL REFERENCES resource(pk) ON DELETE CASCADE,
                    PRIMARY KEY (type, system, value)
                ) WITHOUT ROWID;
                CREATE INDEX resource_identifier_pk ON resource_identifier(resource_pk);

                CREATE TABLE audit_event (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    at INTEGER NOT NULL,
                    actor_id TEXT,
                    actor_role TEXT,
                    action TEXT NOT NULL,
                    resource_type TEXT,
                    resource_id TEXT,
                    patient_id TEXT,
                    outcome TEXT NOT NULL,
                    http_status INTEGER NOT NULL,
                    remote_address TEXT,
                    request TEXT
                );
                CREATE INDEX audit_event_at ON audit_event(at);
                """)
        }
        migrator.registerMigration("v2: hardening: throttles decay, accounts can be disabled, no published login addresses") { db in
            try db.execute(sql: """
                ALTER TABLE login_throttle ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE account ADD COLUMN disabled_at INTEGER;
                """)
            // Practitioners were written with the clinician's login e-mail; take it out of every version.
            let versions = try Row.fetchAll(db, sql: """
                SELECT 'resource' AS source, id, version, json FROM resource WHERE type = 'Practitioner'
                UNION ALL SELECT 'resource_history', id, version, json FROM resource_history WHERE type = 'Practitioner'
                """)
            for row in versions {
                guard var object = JSONParser.parseOrNil(Array(row["json"] as Data))?.objectValue,
                    let telecom = object["telecom"]?.arrayValue
                else { continue }
                let kept = telecom.filter { $0["system"]?.stringValue != "email" }
                object["telecom"] = kept.isEmpty ? nil : .array(kept)
                let table: String = row["source"] == "resource" ? "resource" : "resource_history"
                try db.execute(
                    sql: "UPDATE \(table) SET json = ? WHERE type = 'Practitioner' AND id = ? AND version = ?",
                    arguments: [Data(JSONValue.object(object).serialized()), row["id"] as String, row["version"] as Int])
            }
        }
        migrator.registerMigration("v3: identifiers are unique per patient, not across all patients") { db in
            // Unique across all patients, a conditional create answered whether another patient used an
            // identifier. Resources outside any compartment (forms) share the key ''.
            try db.execute(sql: """
                CREATE TABLE resource_identifier_per_patient (
                    type TEXT NOT NULL,
                    patient_key TEXT NOT NULL,
                    system TEXT NOT NULL,
                    value TEXT NOT NULL,
                    resource_pk INTEGER NOT NULL REFERENCES resource(pk) ON DELETE CASCADE,
                    PRIMARY KEY (type, patient_key, system, value)
                ) WITHOUT ROWID;
                INSERT INTO resource_identifier_per_patient (type, patient_key, system, value, resource_pk)
                    SELECT i.type, COALESCE(r.patient_id, ''), i.system, i.value, i.resource_pk
                    FROM resource_identifier i JOIN resource r ON r.pk = i.resource_pk;
                DROP TABLE resource_identifier;
                ALTER TABLE resource_identifier_per_patient RENAME TO resource_identifier;
                CREATE INDEX resource_identifier_pk ON resource_identifier(resource_pk);
                """)
        }
        migrator.registerMigration("v4: tries held by password checks in flight are counted apart from failures") { db in
            // A right code resets the failures but must not give back the tries of checks still running.
            try db.execute(sql: "ALTER TABLE login_throttle ADD COLUMN checking INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v5: an account's language for e-mail") { db in
            try db.execute(sql: "ALTER TABLE account ADD COLUMN language TEXT")
        }
        migrator.registerMigration("v6: Observation categories, for category= search") { db in
            try db.execute(sql: """
                CREATE TABLE resource_category (
                    resource_pk INTEGER NOT NULL REFERENCES resource(pk) ON DELETE CASCADE,
                    system TEXT NOT NULL,
                    code TEXT NOT NULL,
                    PRIMARY KEY (resource_pk, code, system)
                ) WITHOUT ROWID;
                """)
            // What is already stored is indexed as a new upload would be.
            let insert = try db.makeStatement(sql: "INSERT OR IGNORE INTO resource_category (resource_pk, system, code) VALUES (?, ?, ?)")
            let rows = try Row.fetchCursor(db, sql: "SELECT pk, id, json FROM resource WHERE type = 'Observation'")
            while let row = try rows.next() {
                guard let resource = JSONParser.parseOrNil(Array(row["json"] as Data)) else { continue }
                for category in ResourceIndexer.index(resource, type: .observation, id: row["id"]).categories {
                    try insert.execute(arguments: [row["pk"] as Int64, category.system, category.code])
                }
            }
        }
        migrator.registerMigration("v7: backend clients (SMART Backend Services), their tokens and seen assertions") { db in
            try db.execute(sql: """
                CREATE TABLE backend_client (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    jwks TEXT NOT NULL,
                    scopes TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    disabled_at INTEGER
                );
                CREATE TABLE client_token (
                    token_hash TEXT PRIMARY KEY,
                    client_id TEXT NOT NULL REFERENCES backend_client(id) ON DELETE CASCADE,
                    scopes TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL
                );
                CREATE INDEX client_token_client ON client_token(client_id);
                CREATE TABLE client_assertion (
                    client_id TEXT NOT NULL,
                    jti TEXT NOT NULL,
                    expires_at INTEGER NOT NULL,
                    PRIMARY KEY (client_id, jti)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v8: enrolment codes of invited patients; Patient identifiers unique server-wide") { db in
            try db.execute(sql: """
                UPDATE OR IGNORE resource_identifier SET patient_key = '' WHERE type = 'Patient';
                CREATE TABLE enrolment (
                    account_id TEXT PRIMARY KEY REFERENCES account(id) ON DELETE CASCADE,
                    code_hash TEXT NOT NULL,
                    expires_at INTEGER NOT NULL,
                    created_at INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v9: care teams as CareTeam resources (the command line's memberships become one per patient)") { db in
            // The change feed (v10) comes later: these CareTeams are history, not news for a Subscription.
            let session = SQLiteStoreSession(db: db, keys: nil, recordsChanges: false)
            let rows = try Row.fetchAll(db, sql: """
                SELECT m.patient_id, a.practitioner_id, a.display_name FROM care_team_member m JOIN account a ON a.id = m.clinician_account_id
                WHERE a.practitioner_id IS NOT NULL ORDER BY m.patient_id, a.display_name
                """)
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            var byPatient: [String: [(String, String)]] = [:]
            for row in rows { byPatient[row["patient_id"], default: []].append((row["practitioner_id"], row["display_name"])) }
            for (patientID, members) in byPatient.sorted(by: { $0.key < $1.key }) {
                let careTeam: JSONValue = [
                    "resourceType": "CareTeam",
                    "identifier": [["system": .string(CareTeams.managedSystem), "value": .string(patientID)]],
                    "status": "active", "name": "Bedside care team",
                    "subject": ["reference": .string("Patient/\(patientID)")],
                    "participant": .array(members.map { ["member": ["reference": .string("Practitioner/\($0.0)"), "display": .string($0.1)]] }),
                ]
                try session.put(FHIRService.stamp(careTeam, type: .careTeam, id: UUID().uuidString.lowercased(), version: 1, at: now))
            }
        }
        migrator.registerMigration("v10: the change feed and Subscription delivery state") { db in
            // Versions stored before this are not news: a Subscription starts at the end of the feed.
            try db.execute(sql: """
                CREATE TABLE resource_change (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    type TEXT NOT NULL,
                    id TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    at INTEGER NOT NULL
                );
                CREATE TABLE subscription_state (
                    subscription_id TEXT PRIMARY KEY,
                    client_id TEXT NOT NULL,
                    cursor INTEGER NOT NULL,
                    failures INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at INTEGER NOT NULL DEFAULT 0,
                    last_error TEXT,
                    events INTEGER NOT NULL DEFAULT 0
                );
                """)
        }
        migrator.registerMigration("v11: Bulk Data export jobs") { db in
            try db.execute(sql: """
                CREATE TABLE export_job (
                    id TEXT PRIMARY KEY,
                    client_id TEXT NOT NULL,
                    request BLOB NOT NULL,
                    status TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    transaction_time INTEGER NOT NULL,
                    finished_at INTEGER,
                    expires_at INTEGER,
                    progress TEXT,
                    manifest BLOB,
                    error TEXT
                );
                CREATE INDEX export_job_status ON export_job(status, created_at);
                CREATE INDEX export_job_client ON export_job(client_id);
                """)
        }
        return migrator
    }
}
