import BedsideCore
import BedsideVault
import Foundation
import GRDB

/// Why the store could not do something, in words for the patient.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound
    /// Sent measurements cannot be edited; they can be withdrawn.
    case alreadySent
    case vault(VaultError)
    case database(String)
    /// Another Bedside is using this data directory.
    case busy
    /// Another Bedside process holds the data directory's lock.
    case inUse(pid: Int32?, lockFile: String)

    public var description: String {
        switch self {
        case .notFound: "That measurement no longer exists."
        case .alreadySent: "This measurement was already sent; it can be deleted (marked entered in error) but not changed."
        case .vault(let error): error.description
        case .database(let detail): "The local database failed: \(detail)"
        case .busy: "Another Bedside window is using this data. Close it first."
        case .inUse(let pid, let lockFile):
            "Another Bedside\(pid.map { " (process \($0))" } ?? "") is using this data directory. Close it first, then try again. (Lock: \(lockFile))"
        }
    }
}

/// The patient's local database: every sensitive value sealed, the outbox written in the same transaction.
///
/// In clear it keeps only what must be queried: the random row id, the measurement time, the sync
/// state, and a blind index of the kind. Values, units, notes, the kind itself, server ids and the
/// profile are sealed with the vault, bound to their table, row and column.
public final class ClientStore: Sendable {
    public static let fileName = OwnedDirectory.databaseName

    let pool: DatabasePool
    let vault: KeyVault

    /// Opens (creating when needed) the database in `directory`, which must be private (0700).
    public init(directory: URL, vault: KeyVault) throws(StoreError) {
        self.vault = vault
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Freed pages are zeroed, so even ciphertext of deleted rows does not linger.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        configuration.busyMode = .timeout(2)
        // Create the file 0600 before SQLite does: its -wal and -shm files copy the database's mode.
        let path = directory.appendingPathComponent(Self.fileName).path
        // O_NOFOLLOW: SQLite would open a link planted in the database's place; refuse it here first.
        let descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if descriptor >= 0 {
            fchmod(descriptor, 0o600)
            Glibc.close(descriptor)
        } else if errno == ELOOP {
            throw .database("\(path) is a symbolic link; Bedside does not follow links")
        }
        do {
            pool = try DatabasePool(path: directory.appendingPathComponent(Self.fileName).path, configuration: configuration)
            try ClientMigrations.migrator(store: self).migrate(pool)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            throw .busy
        } catch {
            throw .database("\(error)")
        }
    }

    public func close() {
        try? pool.close()
    }

    // MARK: Sealing helpers

    func seal(_ bytes: [UInt8], table: String, id: String, column: String) throws(StoreError) -> Data {
        do {
            return Data(try vault.seal(bytes, table: table, rowID: id, column: column))
        } catch {
            throw .vault(error)
        }
    }

    func open(_ data: Data, table: String, id: String, column: String) throws(StoreError) -> [UInt8] {
        do {
            return try vault.open(Array(data), table: table, rowID: id, column: column)
        } catch {
            throw .vault(error)
        }
    }

    func kindIndex(_ kind: MeasurementKind) throws(StoreError) -> Data {
        do {
            return Data(try vault.blindIndex(kind.rawValue, domain: "measurement.kind"))
        } catch {
            throw .vault(error)
        }
    }

    func write<T>(_ work: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.write(work)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .database("\(error)")
        }
    }

    func read<T>(_ work: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.read(work)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .database("\(error)")
        }
    }

    // MARK: Measurements

    /// Saves a new measurement and queues it for sending, in one transaction.
    public func add(_ measurement: MeasurementRecord, now: Int64) throws(StoreError) {
        let payload = try seal(MeasurementPayload.encode(measurement), table: "measurement", id: measurement.id, column: "payload")
        let index = try kindIndex(measurement.kind)
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO measurement (id, kind_index, effective_at, sync_state, payload, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [measurement.id, index, measurement.effectiveAt, MeasurementRecord.SyncState.pending.rawValue, payload, now])
            try db.execute(
                sql: "INSERT INTO outbox (record_id, operation, created_at) VALUES (?, 'create', ?)",
                arguments: [measurement.id, now])
        }
    }

    /// Saves many measurements in one transaction (imports, benchmarks); each is sealed and queued as `add` does.
    public func addMany(_ records: [MeasurementRecord], now: Int64) throws(StoreError) {
        var rows: [(MeasurementRecord, Data, Data)] = []
        rows.reserveCapacity(records.count)
        for record in records {
            rows.append((
                record, try kindIndex(record.kind),
                try seal(MeasurementPayload.encode(record), table: "measurement", id: record.id, column: "payload")
            ))
        }
        try write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO measurement (id, kind_index, effective_at, sync_state, payload, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                """)
            let queue = try db.cachedStatement(sql: "INSERT INTO outbox (record_id, operation, created_at) VALUES (?, 'create', ?)")
            for (record, index, payload) in rows {
                try insert.execute(arguments: [record.id, index, record.effectiveAt, record.syncState.rawValue, payload, now])
                if record.syncState == .pending { try queue.execute(arguments: [record.id, now]) }
            }
        }
    }

    /// Keeps measurements that came from the server (entered elsewhere, or before this device).
    /// Ones already here are left as they are: the local copy, sent or not, is the patient's.
    /// Returns how many were new.
    @discardableResult
    public func mergeFromServer(_ records: [MeasurementRecord], now: Int64) throws(StoreError) -> Int {
        var rows: [(MeasurementRecord, Data, Data, Data)] = []
        for record in records {
            rows.append((
                record, try kindIndex(record.kind),
                try seal(MeasurementPayload.encode(record), table: "measurement", id: record.id, column: "payload"),
                try seal(
                    JSONValue.object(["id": .string(record.serverID ?? ""), "version": .number(record.serverVersion ?? 1)]).serialized(),
                    table: "measurement", id: record.id, column: "server")
            ))
        }
        return try write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO measurement (id, kind_index, effective_at, sync_state, payload, server, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
            var added = 0
            for (record, index, payload, server) in rows {
                try insert.execute(arguments: [record.id, index, record.effectiveAt, record.syncState.rawValue, payload, server, now])
                added += db.changesCount
            }
            return added
        }
    }

    /// Changes a measurement that has not been sent yet.
    public func update(_ measurement: MeasurementRecord, now: Int64) throws(StoreError) {
        let payload = try seal(MeasurementPayload.encode(measurement), table: "measurement", id: measurement.id, column: "payload")
        let index = try kindIndex(measurement.kind)
        try write { db in
            guard let state = try Int.fetchOne(db, sql: "SELECT sync_state FROM measurement WHERE id = ?", arguments: [measurement.id]) else {
                throw StoreError.notFound
            }
            guard state == MeasurementRecord.SyncState.pending.rawValue || state == MeasurementRecord.SyncState.rejected.rawValue else {
                throw StoreError.alreadySent
            }
            try db.execute(
                sql: "UPDATE measurement SET kind_index = ?, effective_at = ?, payload = ?, sync_state = ?, updated_at = ? WHERE id = ?",
                arguments: [index, measurement.effectiveAt, payload, MeasurementRecord.SyncState.pending.rawValue, now, measurement.id])
            // A rejected entry that is fixed goes back in the queue.
            try db.execute(sql: "UPDATE outbox SET rejection = NULL, attempts = 0, next_attempt_at = 0 WHERE record_id = ?", arguments: [measurement.id])
        }
    }

    /// Deletes an unsent measurement outright; a sent one is withdrawn (entered-in-error) and that is queued.
    /// Returns true when the row is gone, false when it was marked withdrawn.
    @discardableResult
    public func delete(id: String, now: Int64) throws(StoreError) -> Bool {
        try write { db in
            guard let state = try Int.fetchOne(db, sql: "SELECT sync_state FROM measurement WHERE id = ?", arguments: [id]) else {
                throw StoreError.notFound
            }
            if state == MeasurementRecord.SyncState.synced.rawValue {
                try db.execute(
                    sql: "UPDATE measurement SET sync_state = ?, updated_at = ? WHERE id = ?",
                    arguments: [MeasurementRecord.SyncState.withdrawn.rawValue, now, id])
                try db.execute(sql: "INSERT INTO outbox (record_id, operation, created_at) VALUES (?, 'withdraw', ?)", arguments: [id, now])
                return false
            }
            if state == MeasurementRecord.SyncState.withdrawn.rawValue { return false }
            try db.execute(sql: "DELETE FROM outbox WHERE record_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM measurement WHERE id = ?", arguments: [id])
            return true
        }
    }

    private func measurement(from row: Row) throws(StoreError) -> MeasurementRecord {
        let id: String = row["id"]
        let payload = try open(row["payload"], table: "measurement", id: id, column: "payload")
        guard let decoded = MeasurementPayload.decode(payload) else { throw .vault(.tampered("measurement.payload")) }
        var serverID: String?
        var serverVersion: Int?
        if let sealedServer = row["server"] as Data? {
            let server = try JSONParser.parseOrNil(try open(sealedServer, table: "measurement", id: id, column: "server"))
            serverID = server?["id"]?.stringValue
            serverVersion = server?["version"]?.intValue
        }
        return MeasurementRecord(
            id: id, kind: decoded.kind, values: decoded.values, effectiveAt: row["effective_at"],
            utcOffsetSeconds: decoded.utcOffsetSeconds, note: decoded.note,
            syncState: MeasurementRecord.SyncState(rawValue: row["sync_state"]) ?? .pending, serverID: serverID, serverVersion: serverVersion,
            timePrecision: decoded.timePrecision)
    }

    public func measurement(id: String) throws(StoreError) -> MeasurementRecord? {
        let row = try read { db in try Row.fetchOne(db, sql: "SELECT * FROM measurement WHERE id = ?", arguments: [id]) }
        guard let row else { return nil }
        return try measurement(from: row)
    }

    /// A page of measurements, newest first, optionally of one kind, starting after `cursor`
    /// (keyset paging: each page costs the same however deep in the history it is).
    public func measurements(kind: MeasurementKind?, after cursor: HistoryCursor? = nil, limit: Int) throws(StoreError) -> [MeasurementRecord] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let kind {
            conditions.append("kind_index = ?")
            _ = arguments.append(contentsOf: [try kindIndex(kind)])
        }
        if let cursor {
            // A row-value comparison lets SQLite seek in the (kind, time, id) index instead of scanning.
            conditions.append("(effective_at, id) < (?, ?)")
            _ = arguments.append(contentsOf: [cursor.effectiveAt, cursor.id])
        }
        _ = arguments.append(contentsOf: [limit])
        let sql = "SELECT * FROM measurement \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")) "
            + "ORDER BY effective_at DESC, id DESC LIMIT ?"
        let rows = try read { db in try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments) }
        var result: [MeasurementRecord] = []
        result.reserveCapacity(rows.count)
        for row in rows { result.append(try measurement(from: row)) }
        return result
    }

    public func count(kind: MeasurementKind?) throws(StoreError) -> Int {
        if let kind {
            let index = try kindIndex(kind)
            return try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM measurement WHERE kind_index = ?", arguments: [index]) ?? 0 }
        }
        return try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM measurement") ?? 0 }
    }

    /// Measurements waiting to be sent (or withdrawn), rejected ones excluded.
    public func unsentCount() throws(StoreError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE rejection IS NULL") ?? 0 }
    }

    /// Measurements the server refused, kept for the patient to fix or discard.
    public func rejectedCount() throws(StoreError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE rejection IS NOT NULL") ?? 0 }
    }

    // MARK: Sync bookkeeping

    /// What the server answered for one queued change: where it keeps the measurement now.
    public struct ServerAcknowledgement: Sendable, Equatable {
        public var id: String
        public var operation: OutboxItem.Operation
        public var serverID: String
        public var version: Int

        public init(id: String, operation: OutboxItem.Operation, serverID: String, version: Int) {
            self.id = id
            self.operation = operation
            self.serverID = serverID
            self.version = version
        }
    }

    /// Records that the server stored a measurement (its id and version), and takes it off the queue.
    public func markSynced(id: String, serverID: String, version: Int, now: Int64) throws(StoreError) {
        try acknowledge([ServerAcknowledgement(id: id, operation: .create, serverID: serverID, version: version)], now: now)
    }

    /// Records a whole answered batch in one transaction (one fsync, not one per measurement): each
    /// created measurement becomes synced, each sent withdrawal leaves the queue.
    public func acknowledge(_ acknowledgements: [ServerAcknowledgement], now: Int64) throws(StoreError) {
        var sealed: [Data] = []
        sealed.reserveCapacity(acknowledgements.count)
        for acknowledgement in acknowledgements {
            sealed.append(try seal(
                JSONValue.object(["id": .string(acknowledgement.serverID), "version": .number(acknowledgement.version)]).serialized(),
                table: acknowledgement.operation == .respond ? Self.responseTable : "measurement", id: acknowledgement.id, column: "server"))
        }
        let withdrawn = MeasurementRecord.SyncState.withdrawn.rawValue
        let synced = MeasurementRecord.SyncState.synced.rawValue
        try write { db in
            for (acknowledgement, server) in zip(acknowledgements, sealed) {
                switch acknowledgement.operation {
                case .create:
                    // A measurement withdrawn while its creation was on the way stays withdrawn.
                    try db.execute(
                        sql: "UPDATE measurement SET server = ?, sync_state = CASE sync_state WHEN ? THEN ? ELSE ? END, updated_at = ? WHERE id = ?",
                        arguments: [server, withdrawn, withdrawn, synced, now, acknowledgement.id])
                    // Deleted here while on its way: the next pull brings the server's copy back, to be
                    // withdrawn deliberately rather than lost silently.
                    try db.execute(sql: "DELETE FROM outbox WHERE record_id = ? AND operation <> 'withdraw'", arguments: [acknowledgement.id])
                case .withdraw:
                    try db.execute(sql: "UPDATE measurement SET server = ?, updated_at = ? WHERE id = ?", arguments: [server, now, acknowledgement.id])
                    try db.execute(sql: "DELETE FROM outbox WHERE record_id = ? AND operation = 'withdraw'", arguments: [acknowledgement.id])
                case .respond:
                    try Self.markResponseSent(acknowledgement.id, server: server, now: now, db: db)
                }
            }
        }
    }

    /// One queued change: the record and what to do with it on the server.
    public struct OutboxItem: Sendable, Equatable {
        /// `respond` sends a questionnaire response (the record id is the response's).
        public enum Operation: String, Sendable { case create, withdraw, respond }
        public var sequence: Int64
        public var operation: Operation
        public var record: MeasurementRecord
    }

    /// Queue entries with their measurements, oldest first: those waiting, or those the server refused.
    private func outboxRows(refused: Bool, limit: Int) throws(StoreError) -> [Row] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT o.seq, o.operation, o.rejection, m.* FROM outbox o JOIN measurement m ON m.id = o.record_id
                    WHERE o.rejection IS \(refused ? "NOT NULL" : "NULL") ORDER BY o.seq LIMIT ?
                    """, arguments: [limit])
        }
    }

    /// Queued changes in the order they were made, rejected ones left out.
    public func outbox(limit: Int) throws(StoreError) -> [OutboxItem] {
        var items: [OutboxItem] = []
        for row in try outboxRows(refused: false, limit: limit) {
            items.append(OutboxItem(
                sequence: row["seq"], operation: OutboxItem.Operation(rawValue: row["operation"]) ?? .create,
                record: try measurement(from: row)))
        }
        return items
    }

    /// The server refused a queued change: keep it, with the server's reason, for the patient to fix or discard.
    public func markRejected(id: String, reason: String, now: Int64) throws(StoreError) {
        let sealed = try seal(Array(reason.utf8), table: "outbox", id: id, column: "rejection")
        try write { db in
            try db.execute(sql: "UPDATE outbox SET rejection = ? WHERE record_id = ?", arguments: [sealed, id])
            try db.execute(
                sql: "UPDATE measurement SET sync_state = ?, updated_at = ? WHERE id = ? AND sync_state = ?",
                arguments: [MeasurementRecord.SyncState.rejected.rawValue, now, id, MeasurementRecord.SyncState.pending.rawValue])
            try db.execute(
                sql: "UPDATE questionnaire_response SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
                arguments: [ResponseState.refused.rawValue, now, id, ResponseState.queued.rawValue])
        }
    }

    /// A queued change the server refused, with its reason.
    public struct RejectedItem: Sendable, Equatable {
        public var operation: OutboxItem.Operation
        public var record: MeasurementRecord
        public var reason: String
    }

    /// Everything the server refused, oldest first: what the "Needs attention" screen lists.
    public func rejectedItems(limit: Int) throws(StoreError) -> [RejectedItem] {
        var items: [RejectedItem] = []
        for row in try outboxRows(refused: true, limit: limit) {
            let record = try measurement(from: row)
            let reason = String(decoding: try open(row["rejection"], table: "outbox", id: record.id, column: "rejection"), as: UTF8.self)
            items.append(RejectedItem(operation: OutboxItem.Operation(rawValue: row["operation"]) ?? .create, record: record, reason: reason))
        }
        return items
    }

    /// Puts a refused change back in the queue as it is (the patient believes the server was wrong, or
    /// fixed what it complained about elsewhere, e.g. the computer's clock).
    public func resend(id: String, now: Int64) throws(StoreError) {
        try write { db in
            guard try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE record_id = ? AND rejection IS NOT NULL", arguments: [id]) ?? 0 > 0
            else { throw StoreError.notFound }
            try db.execute(sql: "UPDATE outbox SET rejection = NULL, attempts = 0, next_attempt_at = 0 WHERE record_id = ?", arguments: [id])
            try db.execute(
                sql: "UPDATE measurement SET sync_state = ?, updated_at = ? WHERE id = ? AND sync_state = ?",
                arguments: [MeasurementRecord.SyncState.pending.rawValue, now, id, MeasurementRecord.SyncState.rejected.rawValue])
            try db.execute(
                sql: "UPDATE questionnaire_response SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
                arguments: [ResponseState.queued.rawValue, now, id, ResponseState.refused.rawValue])
        }
    }

    /// The patient's explicit decision to give up a refused change: a refused new measurement is deleted
    /// (the server never had it); a refused withdrawal is undone (the server keeps the measurement).
    public func discardRejected(id: String, now: Int64) throws(StoreError) {
        try write { db in
            guard let operation = try String.fetchOne(
                db, sql: "SELECT operation FROM outbox WHERE record_id = ? AND rejection IS NOT NULL", arguments: [id])
            else { throw StoreError.notFound }
            try db.execute(sql: "DELETE FROM outbox WHERE record_id = ?", arguments: [id])
            if operation == OutboxItem.Operation.respond.rawValue {
                // Refused answers are not thrown away: they become a draft again, to change and send.
                try db.execute(
                    sql: "UPDATE questionnaire_response SET state = ?, updated_at = ? WHERE id = ?",
                    arguments: [ResponseState.draft.rawValue, now, id])
            } else if operation == OutboxItem.Operation.withdraw.rawValue {
                try db.execute(
                    sql: "UPDATE measurement SET sync_state = ?, updated_at = ? WHERE id = ?",
                    arguments: [MeasurementRecord.SyncState.synced.rawValue, now, id])
            } else {
                try db.execute(sql: "DELETE FROM measurement WHERE id = ?", arguments: [id])
            }
        }
    }

    /// The server now shows a withdrawn measurement as entered-in-error.
    public func markWithdrawalSent(id: String, serverID: String, version: Int, now: Int64) throws(StoreError) {
        try acknowledge([ServerAcknowledgement(id: id, operation: .withdraw, serverID: serverID, version: version)], now: now)
    }

    // MARK: Settings (not sensitive)

    /// A setting's value. Settings are sealed too: the last sync, the server's clock offset and the pull
    /// cursor are times that tell when the patient was active, and the tag is the server's. A value written
    /// in clear by an older version is still read (and sealed when next written).
    public func setting(_ key: String) throws(StoreError) -> String? {
        let stored = try read { db in try DatabaseValue.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [key]) }
        switch stored?.storage {
        case .blob(let sealed)?:
            do {
                return try vault.openString(Array(sealed), table: "setting", rowID: key, column: "value")
            } catch {
                throw .vault(error)
            }
        case .string(let clear)?: return clear
        default: return nil
        }
    }

    public func setSetting(_ key: String, _ value: String?) throws(StoreError) {
        let sealed: [UInt8]?
        do {
            sealed = try value.map { text throws(VaultError) in try vault.seal(text, table: "setting", rowID: key, column: "value") }
        } catch {
            throw .vault(error)
        }
        try write { db in
            if let sealed {
                try db.execute(sql: "INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)", arguments: [key, Data(sealed)])
            } else {
                try db.execute(sql: "DELETE FROM setting WHERE key = ?", arguments: [key])
            }
        }
    }

    // MARK: Profile (sealed)

    /// The account this store belongs to: server, e-mail, patient id, name, session token. All sealed.
    public func saveProfile(_ profile: JSONValue) throws(StoreError) {
        let sealed = try seal(profile.serialized(), table: "profile", id: "1", column: "data")
        try write { db in try db.execute(sql: "INSERT OR REPLACE INTO profile (id, data) VALUES (1, ?)", arguments: [sealed]) }
    }

    public func profile() throws(StoreError) -> JSONValue? {
        guard let data = try read({ db in try Data.fetchOne(db, sql: "SELECT data FROM profile WHERE id = 1") }) else { return nil }
        return JSONParser.parseOrNil(try open(data, table: "profile", id: "1", column: "data"))
    }
}

/// Where a history page ends: the next page starts after this measurement.
public struct HistoryCursor: Sendable, Equatable {
    public var effectiveAt: Int64
    public var id: String

    public init(effectiveAt: Int64, id: String) {
        self.effectiveAt = effectiveAt
        self.id = id
    }

    public init(after measurement: MeasurementRecord) {
        self.init(effectiveAt: measurement.effectiveAt, id: measurement.id)
    }
}

/// The client schema, as named append-only migrations.
enum ClientMigrations {
    /// The migrations; a later one may reseal with `store`'s vault (the store is opened unlocked).
    static func migrator(store: ClientStore) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: measurements, outbox, profile, settings") { db in
            try db.execute(sql: """
                CREATE TABLE measurement (
                    id TEXT PRIMARY KEY,
                    kind_index BLOB NOT NULL,
                    effective_at INTEGER NOT NULL,
                    sync_state INTEGER NOT NULL,
                    payload BLOB NOT NULL,
                    server BLOB,
                    updated_at INTEGER NOT NULL
                );
                CREATE INDEX measurement_kind_time ON measurement(kind_index, effective_at, id);
                CREATE INDEX measurement_time ON measurement(effective_at, id);
                CREATE TABLE outbox (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    record_id TEXT NOT NULL,
                    operation TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at INTEGER NOT NULL DEFAULT 0,
                    rejection BLOB
                );
                CREATE INDEX outbox_record ON outbox(record_id);
                CREATE TABLE profile (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    data BLOB NOT NULL
                );
                CREATE TABLE setting (
                    key TEXT PRIMARY KEY,
                    value TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2: cached server resources (assignments, questionnaires)") { db in
            try db.execute(sql: """
                CREATE TABLE resource_cache (
                    type TEXT NOT NULL,
                    id TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    data BLOB NOT NULL,
                    PRIMARY KEY (type, id)
                );
                """)
        }
        migrator.registerMigration("v3: questionnaire responses (drafts and sent answers)") { db in
            try db.execute(sql: """
                CREATE TABLE questionnaire_response (
                    id TEXT PRIMARY KEY,
                    task_index BLOB NOT NULL,
                    state INTEGER NOT NULL,
                    payload BLOB NOT NULL,
                    server BLOB,
                    updated_at INTEGER NOT NULL
                );
                CREATE INDEX questionnaire_response_task ON questionnaire_response(task_index, state);
                """)
        }
        migrator.registerMigration("v4: cached resources keep their server id sealed, found by a blind index") { db in
            try db.execute(sql: """
                ALTER TABLE resource_cache RENAME TO resource_cache_v3;
                CREATE TABLE resource_cache (
                    type TEXT NOT NULL,
                    id_index BLOB NOT NULL,
                    server_id BLOB NOT NULL,
                    version INTEGER NOT NULL,
                    data BLOB NOT NULL,
                    PRIMARY KEY (type, id_index)
                );
                """)
            try ClientStore.resealCache(
                db,
                store: { (type, id, version, bytes) throws(StoreError) in try store.sealedRow(type: type, id: id, version: version, resource: bytes) },
                open: { (data, rowID) throws(StoreError) in try store.open(data, table: ClientStore.cacheTable, id: rowID, column: "data") })
            try db.execute(sql: "DROP TABLE resource_cache_v3")
        }
        return migrator
    }
}
