import BedsideCore
import Foundation
import PostgresNIO

/// The store's operations on one PostgreSQL connection inside one transaction: `SQLiteStoreSession`'s
/// queries, written for PostgreSQL. What differs, each on purpose: `INSERT … ON CONFLICT` for SQLite's
/// `OR REPLACE`/`OR IGNORE`; a text array and `= ANY` for SQLite's `json_each`; `NULLS FIRST/LAST` so
/// that sorting matches SQLite's (NULL is the smallest value there); `RETURNING` for the new row's key;
/// the audit trail's and change feed's numbers from `sequence_counter`; no index hints (PostgreSQL's
/// planner chooses). Queries are written with `?` and numbered `$1…` here.
struct PostgresStoreSession: StoreWriting {
    let sql: PostgresSQL
    let keys: StoreKeys
    /// Writes kept to be sent together; the session's own, used on its one thread.
    let pending = PendingWrites()

    final class PendingWrites {
        /// New resources (`create`), sealed, written in one statement before the session's next one
        /// (whatever it is), so that nothing in the transaction ever misses them.
        var resources: [(resource: StoredResource, body: [UInt8])] = []
        /// Audit lines (`append`), written before the transaction commits or reads the trail.
        var audit: [AuditEvent] = []
        /// Identifier lookups answered ahead (`expectLookups`), and the identifiers of the resources
        /// `create` kept: the id, or nil for none. Forgotten at the session's next statement (which
        /// first sends what is kept), since it may change what they would answer.
        var lookups: [IdentifierKey: String?] = [:]
        /// How many of each are kept before they are written anyway (a long erasure's, a retention run's).
        static let resourcesFlushAt = 500
        static let auditFlushAt = 1_000
        /// 14 parameters an audit line; PostgreSQL takes at most 65,535 in one statement.
        static let auditRowsPerStatement = 500
    }

    /// An identifier lookup's question, byte for byte as the database compares (Swift's `String`
    /// equality would take "café" composed and decomposed for the same identifier).
    struct IdentifierKey: Hashable {
        let bytes: [UInt8]

        init(type: String, scope: String, identifier: ResourceCode) {
            // Each part's length first: no two different questions make the same bytes.
            var bytes: [UInt8] = []
            for part in [type, scope, identifier.system, identifier.code] {
                bytes += Array("\(part.utf8.count):".utf8) + Array(part.utf8)
            }
            self.bytes = bytes
        }
    }

    /// Writes what is kept: before the transaction commits.
    func flush() throws {
        try flushResources()
        try flushAudit()
    }

    // MARK: Statements

    /// `?` placeholders numbered as PostgreSQL wants them (the store's SQL has no `?` of its own).
    static func numbered(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count + 8)
        var next = 1
        for character in text {
            if character == "?" {
                result += "$\(next)"
                next += 1
            } else {
                result.append(character)
            }
        }
        return result
    }

    // Every statement goes through these three, and each first writes the kept new resources (a
    // statement must see everything the transaction wrote before it) and forgets the identifier
    // lookups answered ahead (the statement may change them). Two paths go around them on purpose:
    // `flushResources` itself (which keeps those answers true), and `resourceID`'s and
    // `expectLookups`' queries, which change nothing.

    @discardableResult
    func execute(_ text: String, _ values: [SQLValue] = []) throws -> Int {
        try flushResources()
        pending.lookups = [:]
        return try sql.execute(Self.numbered(text), values)
    }

    func rows(_ text: String, _ values: [SQLValue] = []) throws -> [PostgresRandomAccessRow] {
        try flushResources()
        pending.lookups = [:]
        return try sql.rows(Self.numbered(text), values)
    }

    func row(_ text: String, _ values: [SQLValue] = []) throws -> PostgresRandomAccessRow? {
        try rows(text, values).first
    }

    func strings(_ text: String, _ values: [SQLValue] = []) throws -> [String] {
        try rows(text, values).map { row throws(PostgresStoreError) in try PostgresSQL.decode(row[0], as: String.self, sql: text) }
    }

    func integer(_ text: String, _ values: [SQLValue] = []) throws -> Int64? {
        try flushResources()
        pending.lookups = [:]
        return try sql.integer(Self.numbered(text), values)
    }

    // MARK: Sealed fields

    func seal(_ bytes: [UInt8], context: String) throws -> [UInt8] {
        Array(try keys.seal(bytes, context: context))
    }

    func open(_ stored: [UInt8], context: String) throws -> [UInt8] {
        try keys.open(Data(stored), context: context)
    }

    static func resourceContext(type: String, id: String, version: Int) -> String { SQLiteStoreSession.resourceContext(type: type, id: id, version: version) }

    // MARK: Accounts

    private func account(from row: PostgresRandomAccessRow) throws -> Account {
        let id = try row.text("id")
        return Account(
            id: id, email: String(decoding: try open(row.bytes("email"), context: "account/\(id)/email"), as: UTF8.self),
            role: Role(rawValue: try row.text("role")) ?? .patient, passwordHash: try row.text("password_hash"),
            displayName: String(decoding: try open(row.bytes("display_name"), context: "account/\(id)/display_name"), as: UTF8.self),
            patientID: try row.optionalText("patient_id"), practitionerID: try row.optionalText("practitioner_id"),
            createdAt: try row.int64("created_at"), disabledAt: try row.optionalInt64("disabled_at"), language: try row.optionalText("language"))
    }

    func account(email: String) throws -> Account? {
        try row("SELECT * FROM account WHERE email_index = ?", [.text(keys.blindIndex(email))]).map(account(from:))
    }

    func account(id: String) throws -> Account? {
        try row("SELECT * FROM account WHERE id = ?", [.text(id)]).map(account(from:))
    }

    func account(patientID: String) throws -> Account? {
        try row("SELECT * FROM account WHERE patient_id = ?", [.text(patientID)]).map(account(from:))
    }

    func accounts() throws -> [Account] {
        try rows("SELECT * FROM account").map(account(from:)).sorted { ($0.role.rawValue, $0.email) < ($1.role.rawValue, $1.email) }
    }

    func insert(_ account: Account) throws {
        try execute(
            """
            INSERT INTO account (id, email, email_index, role, password_hash, display_name, patient_id, practitioner_id, created_at, language)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(account.id), .bytes(try seal(Array(account.email.utf8), context: "account/\(account.id)/email")),
                .text(keys.blindIndex(account.email)), .text(account.role.rawValue), .text(account.passwordHash),
                .bytes(try seal(Array(account.displayName.utf8), context: "account/\(account.id)/display_name")),
                .of(account.patientID), .of(account.practitionerID), .integer(account.createdAt), .of(account.language),
            ])
    }

    func updatePasswordHash(accountID: String, passwordHash: String) throws {
        try execute("UPDATE account SET password_hash = ? WHERE id = ?", [.text(passwordHash), .text(accountID)])
    }

    func setDisabled(accountID: String, at time: Int64?) throws {
        try execute("UPDATE account SET disabled_at = ? WHERE id = ?", [.of(time), .text(accountID)])
    }

    // MARK: Login

    func throttle(key: String) throws -> LoginThrottle? {
        try row("SELECT * FROM login_throttle WHERE key = ?", [.text(keys.blindIndex(key))]).map {
            LoginThrottle(
                key: key, failures: try $0.int("failures"), checking: try $0.int("checking"), lockedUntil: try $0.optionalInt64("locked_until"),
                updatedAt: try $0.int64("updated_at"))
        }
    }

    func save(_ throttle: LoginThrottle) throws {
        try execute(
            """
            INSERT INTO login_throttle (key, failures, checking, locked_until, updated_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (key) DO UPDATE SET failures = EXCLUDED.failures, checking = EXCLUDED.checking,
                locked_until = EXCLUDED.locked_until, updated_at = EXCLUDED.updated_at
            """,
            [
                .text(keys.blindIndex(throttle.key)), .of(throttle.failures), .of(throttle.checking), .of(throttle.lockedUntil),
                .integer(throttle.updatedAt),
            ])
    }

    func deleteThrottle(key: String) throws {
        try execute("DELETE FROM login_throttle WHERE key = ?", [.text(keys.blindIndex(key))])
    }

    func budgetUses(key: String, keeping kept: ClosedRange<Int64>) throws -> (count: Int, oldest: Int64?) {
        // Inside the write, which holds the write lock: no other instance counts this key meanwhile.
        let stored = SQLValue.text(keys.blindIndex(key))
        try execute("DELETE FROM login_budget_use WHERE key = ? AND (at < ? OR at > ?)", [stored, .integer(kept.lowerBound), .integer(kept.upperBound)])
        let row = try row("SELECT count(*) AS uses, min(at) AS oldest FROM login_budget_use WHERE key = ?", [stored])
        return (try row?.int("uses") ?? 0, try row?.optionalInt64("oldest"))
    }

    func recordBudgetUse(key: String, at time: Int64) throws {
        try execute("INSERT INTO login_budget_use (key, at) VALUES (?, ?)", [.text(keys.blindIndex(key)), .integer(time)])
    }

    func challenge(id: String) throws -> LoginChallenge? {
        try row("SELECT * FROM login_challenge WHERE id = ?", [.text(id)]).map {
            LoginChallenge(
                id: try $0.text("id"), accountID: try $0.text("account_id"), codeHash: try $0.text("code_hash"),
                expiresAt: try $0.int64("expires_at"), attemptsLeft: try $0.int("attempts_left"))
        }
    }

    func insert(_ challenge: LoginChallenge) throws {
        try execute(
            "INSERT INTO login_challenge (id, account_id, code_hash, expires_at, attempts_left) VALUES (?, ?, ?, ?, ?)",
            [.text(challenge.id), .text(challenge.accountID), .text(challenge.codeHash), .integer(challenge.expiresAt), .of(challenge.attemptsLeft)])
    }

    func update(_ challenge: LoginChallenge) throws {
        try execute(
            "UPDATE login_challenge SET attempts_left = ?, expires_at = ? WHERE id = ?",
            [.of(challenge.attemptsLeft), .integer(challenge.expiresAt), .text(challenge.id)])
    }

    func deleteChallenge(id: String) throws {
        try execute("DELETE FROM login_challenge WHERE id = ?", [.text(id)])
    }

    // MARK: Sessions

    func session(tokenHash: String) throws -> SessionRecord? {
        try row("SELECT * FROM session WHERE token_hash = ?", [.text(tokenHash)]).map {
            SessionRecord(
                tokenHash: try $0.text("token_hash"), accountID: try $0.text("account_id"), createdAt: try $0.int64("created_at"),
                lastSeenAt: try $0.int64("last_seen_at"), revokedAt: try $0.optionalInt64("revoked_at"))
        }
    }

    func insert(_ session: SessionRecord) throws {
        try execute(
            "INSERT INTO session (token_hash, account_id, created_at, last_seen_at, revoked_at) VALUES (?, ?, ?, ?, ?)",
            [.text(session.tokenHash), .text(session.accountID), .integer(session.createdAt), .integer(session.lastSeenAt), .of(session.revokedAt)])
    }

    func touchSession(tokenHash: String, at time: Int64) throws {
        try execute("UPDATE session SET last_seen_at = ? WHERE token_hash = ?", [.integer(time), .text(tokenHash)])
    }

    func revokeSession(tokenHash: String, at time: Int64) throws {
        try execute("UPDATE session SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL", [.integer(time), .text(tokenHash)])
    }

    func revokeSessions(accountID: String, at time: Int64) throws {
        try execute("UPDATE session SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL", [.integer(time), .text(accountID)])
    }

    func purgeExpired(before time: Int64) throws {
        try execute("DELETE FROM login_challenge WHERE expires_at < ?", [.integer(time)])
        try execute("DELETE FROM session WHERE created_at < ?", [.integer(time - 24 * 3_600_000)])
        try execute("DELETE FROM client_token WHERE expires_at < ?", [.integer(time)])
        try execute("DELETE FROM enrolment WHERE expires_at < ?", [.integer(time)])
        try execute("DELETE FROM client_assertion WHERE expires_at < ?", [.integer(time)])
        try execute(
            "DELETE FROM login_throttle WHERE updated_at < ? AND (locked_until IS NULL OR locked_until < ?)",
            [.integer(time - 24 * 3_600_000), .integer(time)])
        // Budget uses of addresses and names not seen again (each key forgets its own at its next use).
        try execute(
            "DELETE FROM login_budget_use WHERE at < ? OR at > ?", [.integer(time - RateLimit.longestKeptUse), .integer(time + RateLimit.longestKeptUse)])
    }

    // MARK: Enrolment

    func enrolment(accountID: String) throws -> EnrolmentRecord? {
        try row("SELECT * FROM enrolment WHERE account_id = ?", [.text(accountID)]).map {
            EnrolmentRecord(
                accountID: try $0.text("account_id"), codeHash: try $0.text("code_hash"), expiresAt: try $0.int64("expires_at"),
                createdAt: try $0.int64("created_at"))
        }
    }

    func save(_ enrolment: EnrolmentRecord) throws {
        try execute(
            """
            INSERT INTO enrolment (account_id, code_hash, expires_at, created_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (account_id) DO UPDATE SET code_hash = EXCLUDED.code_hash, expires_at = EXCLUDED.expires_at,
                created_at = EXCLUDED.created_at
            """,
            [.text(enrolment.accountID), .text(enrolment.codeHash), .integer(enrolment.expiresAt), .integer(enrolment.createdAt)])
    }

    func deleteEnrolment(accountID: String) throws {
        try execute("DELETE FROM enrolment WHERE account_id = ?", [.text(accountID)])
    }

    // MARK: Backend clients

    private static func backendClient(_ row: PostgresRandomAccessRow) throws -> BackendClient {
        BackendClient(
            id: try row.text("id"), name: try row.text("name"), jwks: try row.text("jwks"), scopes: try row.text("scopes"),
            createdAt: try row.int64("created_at"), disabledAt: try row.optionalInt64("disabled_at"))
    }

    func backendClient(id: String) throws -> BackendClient? {
        try row("SELECT * FROM backend_client WHERE id = ?", [.text(id)]).map(Self.backendClient)
    }

    func backendClients() throws -> [BackendClient] {
        try rows("SELECT * FROM backend_client ORDER BY created_at, id").map(Self.backendClient)
    }

    func clientToken(tokenHash: String) throws -> ClientToken? {
        try row("SELECT * FROM client_token WHERE token_hash = ?", [.text(tokenHash)]).map {
            ClientToken(
                tokenHash: try $0.text("token_hash"), clientID: try $0.text("client_id"), scopes: try $0.text("scopes"),
                createdAt: try $0.int64("created_at"), expiresAt: try $0.int64("expires_at"))
        }
    }

    func insert(_ client: BackendClient) throws {
        try execute(
            "INSERT INTO backend_client (id, name, jwks, scopes, created_at, disabled_at) VALUES (?, ?, ?, ?, ?, ?)",
            [.text(client.id), .text(client.name), .text(client.jwks), .text(client.scopes), .integer(client.createdAt), .of(client.disabledAt)])
    }

    func setClientDisabled(id: String, at time: Int64?) throws {
        try execute("UPDATE backend_client SET disabled_at = ? WHERE id = ?", [.of(time), .text(id)])
        if time != nil { try execute("DELETE FROM client_token WHERE client_id = ?", [.text(id)]) }
    }

    func insert(_ token: ClientToken) throws {
        try execute(
            "INSERT INTO client_token (token_hash, client_id, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            [.text(token.tokenHash), .text(token.clientID), .text(token.scopes), .integer(token.createdAt), .integer(token.expiresAt)])
    }

    func recordAssertion(clientID: String, jti: String, expiresAt: Int64) throws -> Bool {
        try execute(
            "INSERT INTO client_assertion (client_id, jti, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [.text(clientID), .text(jti), .integer(expiresAt)]) == 1
    }

    // MARK: Care teams

    func clinicianAccountIDs(practitionerIDs: [String]) throws -> [String] {
        guard !practitionerIDs.isEmpty else { return [] }
        return try strings("SELECT id FROM account WHERE role = 'clinician' AND practitioner_id = ANY(?)", [.texts(practitionerIDs)])
    }

    func teamPatientIDs(clinicianAccountID: String) throws -> [String] {
        try strings("SELECT patient_id FROM care_team_member WHERE clinician_account_id = ? ORDER BY patient_id", [.text(clinicianAccountID)])
    }

    func clinicianIDs(patientID: String) throws -> [String] {
        try strings("SELECT clinician_account_id FROM care_team_member WHERE patient_id = ?", [.text(patientID)])
    }

    func teamPractitionerIDs(patientID: String) throws -> [String] {
        try strings(
            """
            SELECT a.practitioner_id FROM care_team_member m JOIN account a ON a.id = m.clinician_account_id
            WHERE m.patient_id = ? AND a.practitioner_id IS NOT NULL ORDER BY a.practitioner_id
            """, [.text(patientID)])
    }

    func addTeamMember(clinicianAccountID: String, patientID: String) throws {
        try execute(
            "INSERT INTO care_team_member (clinician_account_id, patient_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [.text(clinicianAccountID), .text(patientID)])
    }

    func removeTeamMember(clinicianAccountID: String, patientID: String) throws {
        try execute("DELETE FROM care_team_member WHERE clinician_account_id = ? AND patient_id = ?", [.text(clinicianAccountID), .text(patientID)])
    }
}
