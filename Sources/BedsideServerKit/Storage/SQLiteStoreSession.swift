import BedsideCore
import Foundation
import GRDB

/// The store's operations on one SQLite connection inside one transaction.
struct SQLiteStoreSession: StoreWriting {
    let db: Database
    /// Seal and open resource bodies and personal fields; nil only in migrations older than v12, which
    /// ran before anything was sealed (v12 seals what they wrote).
    let keys: StoreKeys?
    /// Whether `put` adds to the change feed; false only in migrations older than the feed (v10).
    var recordsChanges = true

    init(db: Database, keys: StoreKeys?, recordsChanges: Bool = true) {
        self.db = db
        self.keys = keys
        self.recordsChanges = recordsChanges
    }

    // MARK: Sealed fields

    func seal(_ bytes: [UInt8], context: String) throws -> Data {
        guard let keys else { return Data(bytes) }
        return try keys.seal(bytes, context: context)
    }

    func open(_ stored: Data, context: String) throws -> [UInt8] {
        guard let keys else { return Array(stored) }
        return try keys.open(stored, context: context)
    }

    /// What an equality lookup of `value` compares with.
    func blindIndex(_ value: String) -> String {
        keys?.blindIndex(value) ?? value
    }

    static func resourceContext(type: String, id: String, version: Int) -> String { "\(type)/\(id)/\(version)" }

    // MARK: Accounts

    /// The e-mail address and name are sealed (a name typed by a patient is not in any server file);
    /// the address is found by its blind index.
    private func account(from row: Row) throws -> Account {
        let id: String = row["id"]
        return Account(
            id: id, email: String(decoding: try open(row["email"], context: "account/\(id)/email"), as: UTF8.self),
            role: Role(rawValue: row["role"]) ?? .patient, passwordHash: row["password_hash"],
            displayName: String(decoding: try open(row["display_name"], context: "account/\(id)/display_name"), as: UTF8.self),
            patientID: row["patient_id"], practitionerID: row["practitioner_id"], createdAt: row["created_at"],
            disabledAt: row["disabled_at"], language: row["language"])
    }

    func account(email: String) throws -> Account? {
        // Without keys, the schema from before v12 (e-mails in clear, no blind index).
        let column = keys == nil ? "email" : "email_index"
        return try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM account WHERE \(column) = ?"), arguments: [blindIndex(email)])
            .map(account(from:))
    }

    func account(id: String) throws -> Account? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM account WHERE id = ?"), arguments: [id])
            .map(account(from:))
    }

    func account(patientID: String) throws -> Account? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM account WHERE patient_id = ?"), arguments: [patientID])
            .map(account(from:))
    }

    func accounts() throws -> [Account] {
        try Row.fetchAll(db, sql: "SELECT * FROM account").map(account(from:))
            .sorted { ($0.role.rawValue, $0.email) < ($1.role.rawValue, $1.email) }
    }

    func insert(_ account: Account) throws {
        guard keys != nil else {
            // The schema from before v12, for the migrations that ran on it.
            return try db.execute(
                sql: """
                    INSERT INTO account (id, email, role, password_hash, display_name, patient_id, practitioner_id, created_at, language)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    account.id, account.email, account.role.rawValue, account.passwordHash, account.displayName, account.patientID,
                    account.practitionerID, account.createdAt, account.language,
                ])
        }
        try db.execute(
            sql: """
                INSERT INTO account (id, email, email_index, role, password_hash, display_name, patient_id, practitioner_id, created_at, language)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                account.id, try seal(Array(account.email.utf8), context: "account/\(account.id)/email"), blindIndex(account.email),
                account.role.rawValue, account.passwordHash,
                try seal(Array(account.displayName.utf8), context: "account/\(account.id)/display_name"),
                account.patientID, account.practitionerID, account.createdAt, account.language,
            ])
    }

    func updatePasswordHash(accountID: String, passwordHash: String) throws {
        try db.execute(sql: "UPDATE account SET password_hash = ? WHERE id = ?", arguments: [passwordHash, accountID])
    }

    // MARK: Login

    func throttle(key: String) throws -> LoginThrottle? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM login_throttle WHERE key = ?"), arguments: [blindIndex(key)]).map {
            LoginThrottle(key: key, failures: $0["failures"], checking: $0["checking"], lockedUntil: $0["locked_until"], updatedAt: $0["updated_at"])
        }
    }

    func save(_ throttle: LoginThrottle) throws {
        try db.execute(
            sql: "INSERT OR REPLACE INTO login_throttle (key, failures, checking, locked_until, updated_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [blindIndex(throttle.key), throttle.failures, throttle.checking, throttle.lockedUntil, throttle.updatedAt])
    }

    func deleteThrottle(key: String) throws {
        try db.execute(sql: "DELETE FROM login_throttle WHERE key = ?", arguments: [blindIndex(key)])
    }

    func budgetUses(key: String, keeping kept: ClosedRange<Int64>) throws -> (count: Int, oldest: Int64?) {
        let stored = blindIndex(key)
        try db.execute(
            sql: "DELETE FROM login_budget_use WHERE key = ? AND (at < ? OR at > ?)", arguments: [stored, kept.lowerBound, kept.upperBound])
        let row = try Row.fetchOne(db, sql: "SELECT count(*) AS uses, min(at) AS oldest FROM login_budget_use WHERE key = ?", arguments: [stored])
        return (row?["uses"] ?? 0, row?["oldest"])
    }

    func recordBudgetUse(key: String, at time: Int64) throws {
        try db.execute(sql: "INSERT INTO login_budget_use (key, at) VALUES (?, ?)", arguments: [blindIndex(key), time])
    }

    func challenge(id: String) throws -> LoginChallenge? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM login_challenge WHERE id = ?"), arguments: [id]).map {
            LoginChallenge(
                id: $0["id"], accountID: $0["account_id"], codeHash: $0["code_hash"], expiresAt: $0["expires_at"],
                attemptsLeft: $0["attempts_left"])
        }
    }

    func insert(_ challenge: LoginChallenge) throws {
        try db.execute(
            sql: "INSERT INTO login_challenge (id, account_id, code_hash, expires_at, attempts_left) VALUES (?, ?, ?, ?, ?)",
            arguments: [challenge.id, challenge.accountID, challenge.codeHash, challenge.expiresAt, challenge.attemptsLeft])
    }

    func update(_ challenge: LoginChallenge) throws {
        try db.execute(
            sql: "UPDATE login_challenge SET attempts_left = ?, expires_at = ? WHERE id = ?",
            arguments: [challenge.attemptsLeft, challenge.expiresAt, challenge.id])
    }

    func deleteChallenge(id: String) throws {
        try db.execute(sql: "DELETE FROM login_challenge WHERE id = ?", arguments: [id])
    }

    // MARK: Sessions

    func session(tokenHash: String) throws -> SessionRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM session WHERE token_hash = ?"), arguments: [tokenHash]).map {
            SessionRecord(
                tokenHash: $0["token_hash"], accountID: $0["account_id"], createdAt: $0["created_at"],
                lastSeenAt: $0["last_seen_at"], revokedAt: $0["revoked_at"])
        }
    }

    func insert(_ session: SessionRecord) throws {
        try db.execute(
            sql: "INSERT INTO session (token_hash, account_id, created_at, last_seen_at, revoked_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [session.tokenHash, session.accountID, session.createdAt, session.lastSeenAt, session.revokedAt])
    }

    func touchSession(tokenHash: String, at time: Int64) throws {
        try db.cachedStatement(sql: "UPDATE session SET last_seen_at = ? WHERE token_hash = ?")
            .execute(arguments: [time, tokenHash])
    }

    func revokeSession(tokenHash: String, at time: Int64) throws {
        try db.execute(
            sql: "UPDATE session SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL", arguments: [time, tokenHash])
    }

    func revokeSessions(accountID: String, at time: Int64) throws {
        try db.execute(
            sql: "UPDATE session SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL", arguments: [time, accountID])
    }

    func purgeExpired(before time: Int64) throws {
        try db.execute(sql: "DELETE FROM login_challenge WHERE expires_at < ?", arguments: [time])
        try db.execute(sql: "DELETE FROM session WHERE created_at < ?", arguments: [time - 24 * 3_600_000])
        try db.execute(sql: "DELETE FROM client_token WHERE expires_at < ?", arguments: [time])
        try db.execute(sql: "DELETE FROM enrolment WHERE expires_at < ?", arguments: [time])
        // An assertion's jti is kept until it expires: after that the assertion is refused as expired anyway.
        try db.execute(sql: "DELETE FROM client_assertion WHERE expires_at < ?", arguments: [time])
        // Throttle rows of names that stopped failing a day ago and hold no lock: invented addresses
        // must not pile up.
        try db.execute(
            sql: "DELETE FROM login_throttle WHERE updated_at < ? AND (locked_until IS NULL OR locked_until < ?)",
            arguments: [time - 24 * 3_600_000, time])
        // Budget uses of addresses and names not seen again (each key forgets its own at its next use).
        try db.execute(
            sql: "DELETE FROM login_budget_use WHERE at < ? OR at > ?", arguments: [time - RateLimit.longestKeptUse, time + RateLimit.longestKeptUse])
    }

    // MARK: Bulk Data export

    func exportPage(_ query: ResourceQuery, updatedAfter: Int64?, updatedBy: Int64, afterKey: Int64, limit: Int, byteBudget: Int) throws
        -> ExportPage
    {
        guard let (conditions, arguments) = self.conditions(of: query) else { return ExportPage() }
        var all = arguments
        _ = all.append(contentsOf: [updatedAfter ?? Int64.min, afterKey, limit])
        // The plan is fixed, not left to the planner: one patient's rows through the patient index (few
        // to sort), a whole type along the rowid (no sort; an index on last_updated would sort every
        // matching row again for each page). A version older than the current one is never newer than
        // `updatedAfter` when the current one is not, so that filter stays in SQL.
        let source = query.patientIDs == nil ? "resource NOT INDEXED" : "resource INDEXED BY resource_patient_date"
        let sql = """
            SELECT pk, type, id, version, patient_id, last_updated, json FROM \(source) WHERE \(conditions.joined(separator: " AND "))
            AND last_updated > ? AND pk > ? ORDER BY pk LIMIT ?
            """
        let cursor = try Row.fetchCursor(db.makeStatement(sql: sql), arguments: all)
        var page = ExportPage()
        var looked = 0
        var bytes = 0
        while let row = try cursor.next() {
            looked += 1
            page.next = row["pk"]
            var json: [UInt8]
            if (row["last_updated"] as Int64) <= updatedBy {
                json = try open(row["json"], context: Self.resourceContext(type: row["type"], id: row["id"], version: row["version"]))
            } else {
                // Changed after the export's transactionTime: the version it had then, if it had one.
                guard
                    let older = try Row.fetchOne(
                        db.cachedStatement(sql: """
                            SELECT version, last_updated, json FROM resource_history WHERE type = ? AND id = ? AND last_updated <= ?
                            ORDER BY version DESC LIMIT 1
                            """), arguments: [row["type"] as String, row["id"] as String, updatedBy]),
                    (older["last_updated"] as Int64) > (updatedAfter ?? Int64.min)
                else { continue }
                json = try open(older["json"], context: Self.resourceContext(type: row["type"], id: row["id"], version: older["version"]))
            }
            bytes += json.count
            page.rows.append(ExportRow(json: json, patientID: row["patient_id"]))
            if bytes >= byteBudget { break }
        }
        if looked < limit && bytes < byteBudget { page.next = nil }
        return page
    }

    private static func exportJob(_ row: Row) -> ExportJobRecord {
        var job = ExportJobRecord(
            id: row["id"], clientID: row["client_id"], request: Array(row["request"] as Data),
            status: ExportJobRecord.Status(rawValue: row["status"]) ?? .failed, createdAt: row["created_at"],
            transactionTime: row["transaction_time"])
        job.finishedAt = row["finished_at"]
        job.expiresAt = row["expires_at"]
        job.progress = row["progress"]
        job.manifest = (row["manifest"] as Data?).map(Array.init)
        job.error = row["error"]
        job.attempt = row["attempt"]
        return job
    }

    func exportJob(id: String) throws -> ExportJobRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM export_job WHERE id = ?"), arguments: [id]).map(Self.exportJob)
    }

    func heldExportJobs(clientID: String, at time: Int64) throws -> [ExportJobRecord] {
        try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT * FROM export_job WHERE client_id = ?
                AND (status IN ('accepted', 'running') OR (status = 'complete' AND (expires_at IS NULL OR expires_at > ?)))
                """), arguments: [clientID, time]
        ).map(Self.exportJob)
    }

    func nextExportJob() throws -> ExportJobRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM export_job WHERE status = 'accepted' ORDER BY created_at, id LIMIT 1"))
            .map(Self.exportJob)
    }

    func exportJobsToDelete(at time: Int64) throws -> [ExportJobRecord] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT * FROM export_job WHERE status = 'cancelled' OR (expires_at IS NOT NULL AND expires_at <= ?)"),
            arguments: [time]
        ).map(Self.exportJob)
    }

    func insert(_ job: ExportJobRecord) throws {
        try db.execute(
            sql: "INSERT INTO export_job (id, client_id, request, status, created_at, transaction_time) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [job.id, job.clientID, Data(job.request), job.status.rawValue, job.createdAt, job.transactionTime])
        try update(job)
    }

    func update(_ job: ExportJobRecord) throws {
        try db.execute(
            sql: """
                UPDATE export_job SET status = ?, finished_at = ?, expires_at = ?, progress = ?, manifest = ?, error = ?, attempt = ? WHERE id = ?
                """,
            arguments: [job.status.rawValue, job.finishedAt, job.expiresAt, job.progress, job.manifest.map { Data($0) }, job.error, job.attempt, job.id])
    }

    func deleteExportJob(id: String) throws {
        try db.execute(sql: "DELETE FROM export_job WHERE id = ?", arguments: [id])
    }

    func requeueRunningExportJobs() throws -> [ExportJobRecord] {
        let running = try Row.fetchAll(db, sql: "SELECT * FROM export_job WHERE status = 'running'").map(Self.exportJob)
        try db.execute(sql: "UPDATE export_job SET status = 'accepted', progress = NULL, attempt = NULL WHERE status = 'running'")
        return running
    }

    // MARK: Enrolment

    func enrolment(accountID: String) throws -> EnrolmentRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM enrolment WHERE account_id = ?"), arguments: [accountID]).map {
            EnrolmentRecord(accountID: $0["account_id"], codeHash: $0["code_hash"], expiresAt: $0["expires_at"], createdAt: $0["created_at"])
        }
    }

    func save(_ enrolment: EnrolmentRecord) throws {
        try db.execute(
            sql: "INSERT OR REPLACE INTO enrolment (account_id, code_hash, expires_at, created_at) VALUES (?, ?, ?, ?)",
            arguments: [enrolment.accountID, enrolment.codeHash, enrolment.expiresAt, enrolment.createdAt])
    }

    func deleteEnrolment(accountID: String) throws {
        try db.execute(sql: "DELETE FROM enrolment WHERE account_id = ?", arguments: [accountID])
    }

    // MARK: Backend clients

    private static func backendClient(_ row: Row) -> BackendClient {
        BackendClient(
            id: row["id"], name: row["name"], jwks: row["jwks"], scopes: row["scopes"], createdAt: row["created_at"],
            disabledAt: row["disabled_at"])
    }

    func backendClient(id: String) throws -> BackendClient? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM backend_client WHERE id = ?"), arguments: [id]).map(Self.backendClient)
    }

    func backendClients() throws -> [BackendClient] {
        try Row.fetchAll(db, sql: "SELECT * FROM backend_client ORDER BY created_at, id").map(Self.backendClient)
    }

    func clientToken(tokenHash: String) throws -> ClientToken? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM client_token WHERE token_hash = ?"), arguments: [tokenHash]).map {
            ClientToken(
                tokenHash: $0["token_hash"], clientID: $0["client_id"], scopes: $0["scopes"], createdAt: $0["created_at"],
                expiresAt: $0["expires_at"])
        }
    }

    func insert(_ client: BackendClient) throws {
        try db.execute(
            sql: "INSERT INTO backend_client (id, name, jwks, scopes, created_at, disabled_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [client.id, client.name, client.jwks, client.scopes, client.createdAt, client.disabledAt])
    }

    func setClientDisabled(id: String, at time: Int64?) throws {
        try db.execute(sql: "UPDATE backend_client SET disabled_at = ? WHERE id = ?", arguments: [time, id])
        if time != nil { try db.execute(sql: "DELETE FROM client_token WHERE client_id = ?", arguments: [id]) }
    }

    func insert(_ token: ClientToken) throws {
        try db.execute(
            sql: "INSERT INTO client_token (token_hash, client_id, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [token.tokenHash, token.clientID, token.scopes, token.createdAt, token.expiresAt])
    }

    func recordAssertion(clientID: String, jti: String, expiresAt: Int64) throws -> Bool {
        try db.execute(
            sql: "INSERT OR IGNORE INTO client_assertion (client_id, jti, expires_at) VALUES (?, ?, ?)",
            arguments: [clientID, jti, expiresAt])
        return db.changesCount == 1
    }

    // MARK: Care teams

    func clinicianAccountIDs(practitionerIDs: [String]) throws -> [String] {
        guard !practitionerIDs.isEmpty else { return [] }
        let list = String(decoding: JSONValue.array(practitionerIDs.map(JSONValue.string)).serialized(), as: UTF8.self)
        return try String.fetchAll(
            db.cachedStatement(sql: "SELECT id FROM account WHERE role = 'clinician' AND practitioner_id IN (SELECT value FROM json_each(?))"),
            arguments: [list])
    }

    func teamPatientIDs(clinicianAccountID: String) throws -> [String] {
        try String.fetchAll(
            db.cachedStatement(sql: "SELECT patient_id FROM care_team_member WHERE clinician_account_id = ? ORDER BY patient_id"),
            arguments: [clinicianAccountID])
    }

    func clinicianIDs(patientID: String) throws -> [String] {
        try String.fetchAll(
            db.cachedStatement(sql: "SELECT clinician_account_id FROM care_team_member WHERE patient_id = ?"),
            arguments: [patientID])
    }

    func removeTeamMember(clinicianAccountID: String, patientID: String) throws {
        try db.execute(
            sql: "DELETE FROM care_team_member WHERE clinician_account_id = ? AND patient_id = ?", arguments: [clinicianAccountID, patientID])
    }

    func setDisabled(accountID: String, at time: Int64?) throws {
        try db.execute(sql: "UPDATE account SET disabled_at = ? WHERE id = ?", arguments: [time, accountID])
    }

    func teamPractitionerIDs(patientID: String) throws -> [String] {
        try String.fetchAll(
            db.cachedStatement(sql: """
                SELECT a.practitioner_id FROM care_team_member m JOIN account a ON a.id = m.clinician_account_id
                WHERE m.patient_id = ? AND a.practitioner_id IS NOT NULL ORDER BY a.practitioner_id
                """),
            arguments: [patientID])
    }

    func addTeamMember(clinicianAccountID: String, patientID: String) throws {
        try db.execute(
            sql: "INSERT OR IGNORE INTO care_team_member (clinician_account_id, patient_id) VALUES (?, ?)",
            arguments: [clinicianAccountID, patientID])
    }

    // MARK: Resources

    private func resource(from row: Row) throws -> StoredResource {
        let (type, id, version): (String, String, Int) = (row["type"], row["id"], row["version"])
        return StoredResource(
            type: type, id: id, versionID: version, lastUpdated: row["last_updated"],
            patientID: row["patient_id"], status: row["status"], date: row["date"], priority: row["priority"],
            json: try open(row["json"], context: Self.resourceContext(type: type, id: id, version: version)))
    }

    func resource(type: String, id: String) throws -> StoredResource? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM resource WHERE type = ? AND id = ?"), arguments: [type, id]
        ).map(resource(from:))
    }

    func resource(type: String, id: String, version: Int) throws -> StoredResource? {
        if let current = try resource(type: type, id: id), current.versionID == version { return current }
        guard let current = try resource(type: type, id: id),
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM resource_history WHERE type = ? AND id = ? AND version = ?"),
                arguments: [type, id, version])
        else { return nil }
        var old = current
        old.versionID = row["version"]
        old.lastUpdated = row["last_updated"]
        old.json = try open(row["json"], context: Self.resourceContext(type: type, id: id, version: old.versionID))
        return old
    }

    func resourceID(type: String, identifier: ResourceCode, patientID: String?) throws -> String? {
        try String.fetchOne(
            db.cachedStatement(sql: """
                SELECT r.id FROM resource_identifier i JOIN resource r ON r.pk = i.resource_pk
                WHERE i.type = ? AND i.patient_key = ? AND i.system = ? AND i.value = ?
                """),
            arguments: [type, patientID ?? "", identifier.system, identifier.code])
    }

    /// In-process, each lookup costs less than gathering them would.
    func expectLookups(type: String, _ lookups: [(identifier: ResourceCode, patientID: String?)]) throws {}

    func count(type: String) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM resource WHERE type = ?", arguments: [type]) ?? 0
    }

    /// In-process, nothing is gained by keeping it: stored at once.
    func create(_ resource: StoredResource) throws {
        try store(resource, new: true)
    }

    func put(_ resource: StoredResource) throws {
        try store(resource, new: false)
    }

    private func store(_ resource: StoredResource, new: Bool) throws {
        let existing = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT pk, version, last_updated, json FROM resource WHERE type = ? AND id = ?"),
            arguments: [resource.type, resource.id])
        let pk: Int64
        if let existing {
            guard !new else {
                throw DatabaseError(resultCode: .SQLITE_CONSTRAINT_PRIMARYKEY, message: "\(resource.type)/\(resource.id) is stored already")
            }
            pk = existing["pk"]
            try db.cachedStatement(sql: """
                INSERT INTO resource_history (type, id, version, last_updated, json) VALUES (?, ?, ?, ?, ?)
                """).execute(arguments: [
                    resource.type, resource.id, existing["version"] as Int, existing["last_updated"] as Int64,
                    existing["json"] as Data,
                ])
            try db.cachedStatement(sql: """
                UPDATE resource SET version = ?, last_updated = ?, patient_id = ?, status = ?, date = ?, priority = ?, json = ?
                WHERE pk = ?
                """).execute(arguments: [
                    resource.versionID, resource.lastUpdated, resource.patientID, resource.status, resource.date,
                    resource.priority, try sealedBody(of: resource), pk,
                ])
            try db.cachedStatement(sql: "DELETE FROM resource_code WHERE resource_pk = ?").execute(arguments: [pk])
            try db.cachedStatement(sql: "DELETE FROM resource_category WHERE resource_pk = ?").execute(arguments: [pk])
            try db.cachedStatement(sql: "DELETE FROM resource_identifier WHERE resource_pk = ?").execute(arguments: [pk])
        } else {
            try db.cachedStatement(sql: """
                INSERT INTO resource (type, id, version, last_updated, patient_id, status, date, priority, json)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                    resource.type, resource.id, resource.versionID, resource.lastUpdated, resource.patientID,
                    resource.status, resource.date, resource.priority, try sealedBody(of: resource),
                ])
            pk = db.lastInsertedRowID
        }
        let insertCode = try db.cachedStatement(sql: "INSERT OR IGNORE INTO resource_code (resource_pk, system, code) VALUES (?, ?, ?)")
        for code in resource.codes { try insertCode.execute(arguments: [pk, code.system, code.code]) }
        if !resource.categories.isEmpty {
            let insertCategory = try db.cachedStatement(sql: "INSERT OR IGNORE INTO resource_category (resource_pk, system, code) VALUES (?, ?, ?)")
            for category in resource.categories { try insertCategory.execute(arguments: [pk, category.system, category.code]) }
        }
        let insertIdentifier = try db.cachedStatement(
            sql: "INSERT INTO resource_identifier (type, patient_key, system, value, resource_pk) VALUES (?, ?, ?, ?, ?)")
        for identifier in resource.identifiers {
            try insertIdentifier.execute(arguments: [resource.type, resource.identifierScope ?? "", identifier.system, identifier.code, pk])
        }
        if recordsChanges { try recordChange(type: resource.type, id: resource.id, version: resource.versionID, at: resource.lastUpdated) }
    }

    /// The body as stored: sealed for this type, id and version (a previous version moves to the history
    /// as it is, still sealed for its own version).
    private func sealedBody(of resource: StoredResource) throws -> Data {
        try seal(resource.json, context: Self.resourceContext(type: resource.type, id: resource.id, version: resource.versionID))
    }

    /// The WHERE conditions of a query and their arguments; nil when it can match nothing.
    private func conditions(of query: ResourceQuery) -> ([String], StatementArguments)? {
        var conditions = ["type = ?"]
        var arguments: StatementArguments = [query.type]
        // One bound JSON array per list, so the SQL text does not depend on the list's length.
        func inList(_ column: String, _ values: [String]) {
            conditions.append("\(column) IN (SELECT value FROM json_each(?))")
            _ = arguments.append(contentsOf: [String(decoding: JSONValue.array(values.map(JSONValue.string)).serialized(), as: UTF8.self)])
        }
        if let patients = query.patientIDs {
            if patients.isEmpty { return nil }
            inList("patient_id", patients)
        }
        if let ids = query.ids { inList("id", ids) }
        if let statuses = query.statuses { inList("status", statuses) }
        for (table, groups) in [("resource_code", query.codes), ("resource_category", query.categories)] {
            for group in groups where !group.isEmpty {
                let alternatives = group.map { token -> String in
                    var parts: [String] = []
                    if let code = token.code {
                        parts.append("t.code = ?")
                        _ = arguments.append(contentsOf: [code])
                    }
                    if let system = token.system {
                        parts.append("t.system = ?")
                        _ = arguments.append(contentsOf: [system])
                    }
                    return "(" + (parts.isEmpty ? "1" : parts.joined(separator: " AND ")) + ")"
                }
                conditions.append("EXISTS (SELECT 1 FROM \(table) t WHERE t.resource_pk = resource.pk AND (\(alternatives.joined(separator: " OR "))))")
            }
        }
        if let identifiers = query.identifiers, !identifiers.isEmpty {
            let alternatives = identifiers.map { identifier -> String in
                _ = arguments.append(contentsOf: identifier.system.isEmpty ? [identifier.code] : [identifier.code, identifier.system])
                return identifier.system.isEmpty ? "(i.value = ?)" : "(i.value = ? AND i.system = ?)"
            }
            conditions.append(
                "EXISTS (SELECT 1 FROM resource_identifier i WHERE i.resource_pk = resource.pk AND (\(alternatives.joined(separator: " OR "))))")
        }
        for condition in query.dates { append(condition, column: "date", to: &conditions, &arguments) }
        for condition in query.lastUpdated { append(condition, column: "last_updated", to: &conditions, &arguments) }
        return (conditions, arguments)
    }

    func patientIDs(matching query: ResourceQuery) throws -> Set<String> {
        guard let (conditions, arguments) = self.conditions(of: query) else { return [] }
        let sql = "SELECT DISTINCT patient_id FROM resource WHERE \(conditions.joined(separator: " AND ")) AND patient_id IS NOT NULL"
        return Set(try String.fetchAll(db.makeStatement(sql: sql), arguments: arguments))
    }

    func total(matching query: ResourceQuery) throws -> Int {
        guard let (conditions, arguments) = self.conditions(of: query) else { return 0 }
        let sql = "SELECT COUNT(*) FROM resource WHERE \(conditions.joined(separator: " AND "))"
        return try Int.fetchOne(db.makeStatement(sql: sql), arguments: arguments) ?? 0
    }

    func search(_ query: ResourceQuery) throws -> ResourcePage {
        guard let matching = conditions(of: query) else { return ResourcePage(resources: [], hasMore: false) }
        var conditions = matching.0
        var arguments = matching.1
        if let after = query.after {
            guard let (condition, values) = after.condition(sort: query.sort) else { return ResourcePage(resources: [], hasMore: false) }
            conditions.append(condition)
            for value in values { _ = arguments.append(contentsOf: [value]) }
        }
        var order: [String] = query.sort.map { key in
            switch key {
            case .date(let ascending): "date \(ascending ? "ASC" : "DESC")"
            case .lastUpdated(let ascending): "last_updated \(ascending ? "ASC" : "DESC")"
            case .priority(let ascending): "priority \(ascending ? "ASC" : "DESC")"
            }
        }
        order.append("pk ASC")
        let sql = """
            SELECT pk, type, id, version, last_updated, patient_id, status, date, priority, json FROM resource
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY \(order.joined(separator: ", ")) LIMIT ? OFFSET ?
            """
        _ = arguments.append(contentsOf: [query.count + 1, query.offset])
        // Not cached: codes, dates and sort keys make many SQL texts, and a cache keyed by them would
        // grow with every distinct search anyone sends.
        let cursor = try Row.fetchCursor(db.makeStatement(sql: sql), arguments: arguments)
        return try ResourcePage.filling(query) { try cursor.next().map { row in (try resource(from: row), row["pk"] as Int64) } }
    }

    /// FHIR date comparison of a stored instant with the range of the searched value.
    private func append(
        _ condition: ResourceQuery.DateCondition, column: String, to conditions: inout [String],
        _ arguments: inout StatementArguments
    ) {
        let low = condition.value.lowerBound
        let high = condition.value.upperBound
        switch condition.comparison {
        case .eq:
            conditions.append("(\(column) >= ? AND \(column) < ?)")
            _ = arguments.append(contentsOf: [low, high])
        case .ap:
            conditions.append("(\(column) >= ? AND \(column) < ?)")
            _ = arguments.append(contentsOf: [low.subtractingReportingOverflow(condition.margin).partialValue, high.addingReportingOverflow(condition.margin).partialValue])
        case .ne:
            conditions.append("(\(column) < ? OR \(column) >= ?)")
            _ = arguments.append(contentsOf: [low, high])
        case .gt, .sa:
            conditions.append("\(column) >= ?")
            _ = arguments.append(contentsOf: [high])
        case .ge:
            conditions.append("\(column) >= ?")
            _ = arguments.append(contentsOf: [low])
        case .lt, .eb:
            conditions.append("\(column) < ?")
            _ = arguments.append(contentsOf: [low])
        case .le:
            conditions.append("\(column) < ?")
            _ = arguments.append(contentsOf: [high])
        }
    }

    // MARK: Audit

    /// Appends to the chained trail (`AuditChain`): inside the write transaction, so the record before
    /// is the last one committed, whichever process wrote it.
    func append(_ events: [AuditEvent]) throws {
        guard let keys else { throw StoreEncryptionError.damaged("the audit trail needs the store's keys") }
        let statement = try db.cachedStatement(sql: """
            INSERT INTO audit_event (seq, at, actor_id, actor_role, action, resource_type, resource_id, patient_id, outcome,
                http_status, remote_address, request, prev_mac, mac)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        var previous = try Data.fetchOne(db.cachedStatement(sql: "SELECT mac FROM audit_event ORDER BY seq DESC LIMIT 1")) ?? Data()
        // AUTOINCREMENT: the next number is above every one ever used, even of rows since removed.
        var sequence = try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM sqlite_sequence WHERE name = 'audit_event'")) ?? 0
        for event in events {
            sequence += 1
            let mac = AuditChain.mac(key: keys.audit, previous: previous, sequence: sequence, event: event)
            try statement.execute(arguments: [
                sequence, event.at, event.actorID, event.actorRole, event.action, event.resourceType, event.resourceID,
                event.patientID, event.outcome, event.httpStatus, event.remoteAddress, event.request, previous, mac,
            ])
            previous = mac
        }
    }

    static func auditEvent(_ row: Row) -> AuditEvent {
        AuditEvent(
            at: row["at"], actorID: row["actor_id"], actorRole: row["actor_role"], action: row["action"],
            resourceType: row["resource_type"], resourceID: row["resource_id"], patientID: row["patient_id"],
            outcome: row["outcome"], httpStatus: row["http_status"], remoteAddress: row["remote_address"],
            request: row["request"])
    }

    func auditEvents(after sequence: Int64, limit: Int) throws -> [(sequence: Int64, event: AuditEvent)] {
        try Row.fetchAll(
            db, sql: "SELECT * FROM audit_event WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [sequence, limit]
        ).map { row in (row["seq"], Self.auditEvent(row)) }
    }

    func auditLinks(after sequence: Int64, limit: Int) throws -> [AuditChain.Link] {
        try Row.fetchAll(
            db, sql: "SELECT * FROM audit_event WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [sequence, limit]
        ).map { row in AuditChain.Link(sequence: row["seq"], event: Self.auditEvent(row), previousMAC: row["prev_mac"], mac: row["mac"]) }
    }
}
