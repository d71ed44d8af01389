import Crypto
import Foundation
import GRDB

/// A database's data key as stored (table `data_key`, one row): wrapped by the master key, with that
/// key's fingerprint so a wrong key can be named in the message.
struct DataKeyRecord: Sendable {
    var wrapped: Data
    var masterFingerprint: String
    var createdAt: Int64

    func insert(_ db: Database) throws {
        try db.execute(
            sql: "INSERT INTO data_key (id, wrapped, master_fingerprint, created_at) VALUES (1, ?, ?, ?)",
            arguments: [wrapped, masterFingerprint, createdAt])
    }

    static func stored(_ db: Database) throws -> DataKeyRecord? {
        guard try db.tableExists("data_key") else { return nil }
        return try Row.fetchOne(db, sql: "SELECT wrapped, master_fingerprint, created_at FROM data_key WHERE id = 1").map {
            DataKeyRecord(wrapped: $0["wrapped"], masterFingerprint: $0["master_fingerprint"], createdAt: $0["created_at"])
        }
    }

    /// The keys of the database in `pool`: its data key unwrapped with the master key, or (a new
    /// database, or one from before encryption) a new data key to be stored wrapped by migration v12.
    static func keys(in pool: DatabasePool, encryption: StoreEncryption) throws -> (keys: StoreKeys, newWrap: DataKeyRecord?) {
        try keys(stored: try pool.read(Self.stored), encryption: encryption)
    }

    /// The keys from the database's wrapped data key (`stored`), or a new data key and its wrap to store
    /// when the database has none: whichever database it is in.
    static func keys(stored: DataKeyRecord?, encryption: StoreEncryption) throws -> (keys: StoreKeys, newWrap: DataKeyRecord?) {
        switch encryption {
        case .plaintextBodiesForBenchmark:
            guard stored == nil else { throw StoreEncryptionError.plaintextBaselineOnEncryptedStore }
            return (StoreKeys(dataKey: SymmetricKey(data: [UInt8](repeating: 0, count: 32)), sealsBodies: false), nil)
        case .masterKey(let file):
            if let stored {
                guard file.exists else { throw StoreEncryptionError.missingKeyFile(path: file.path, fingerprint: stored.masterFingerprint) }
                let master = try file.read()
                guard let dataKey = StoreKeys.unwrap(stored.wrapped, with: master) ?? file.finishInterruptedRotation(of: stored) else {
                    throw StoreEncryptionError.wrongKey(
                        path: file.path, expected: stored.masterFingerprint, given: MasterKeyFile.fingerprint(master))
                }
                return (StoreKeys(dataKey: dataKey), nil)
            }
            let master = file.exists ? try file.read() : try file.create()
            let (dataKey, wrapped) = try StoreKeys.newDataKey(wrappedBy: master)
            let record = DataKeyRecord(
                wrapped: wrapped, masterFingerprint: MasterKeyFile.fingerprint(master), createdAt: Int64(Date().timeIntervalSince1970 * 1000))
            return (StoreKeys(dataKey: dataKey), record)
        }
    }

    /// Wraps the data key under `newMaster` instead of `oldMaster`, in one transaction.
    static func rewrap(in pool: DatabasePool, from oldMaster: SymmetricKey, to newMaster: SymmetricKey, at time: Int64) throws {
        try pool.write { db in
            guard let stored = try stored(db) else { throw StoreEncryptionError.plaintextBaselineOnEncryptedStore }
            guard let dataKey = StoreKeys.unwrap(stored.wrapped, with: oldMaster) else {
                throw StoreEncryptionError.damaged("the data key does not open with the current master key")
            }
            try db.execute(
                sql: "UPDATE data_key SET wrapped = ?, master_fingerprint = ?, rewrapped_at = ? WHERE id = 1",
                arguments: [try StoreKeys.wrap(dataKey, under: newMaster), MasterKeyFile.fingerprint(newMaster), time])
        }
    }
}

extension ServerMigrations {
    /// Migration v12: the data key's table; every resource version's body, every account's e-mail and
    /// name sealed; e-mails and login throttles found by blind index from now on.
    static func sealStoredData(_ db: Database, keys: StoreKeys) throws {
        try db.execute(sql: """
            CREATE TABLE data_key (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                wrapped BLOB NOT NULL,
                master_fingerprint TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                rewrapped_at INTEGER
            );
            ALTER TABLE account ADD COLUMN email_index TEXT;
            """)
        let session = SQLiteStoreSession(db: db, keys: keys)
        for row in try Row.fetchAll(db, sql: "SELECT id, email, display_name FROM account") {
            let (id, email, name): (String, String, String) = (row["id"], row["email"], row["display_name"])
            try db.execute(
                sql: "UPDATE account SET email = ?, email_index = ?, display_name = ? WHERE id = ?",
                arguments: [
                    try session.seal(Array(email.utf8), context: "account/\(id)/email"), session.blindIndex(email),
                    try session.seal(Array(name.utf8), context: "account/\(id)/display_name"), id,
                ])
        }
        try db.execute(sql: "CREATE UNIQUE INDEX account_email_index ON account(email_index)")
        for key in try String.fetchAll(db, sql: "SELECT key FROM login_throttle") {
            try db.execute(sql: "UPDATE login_throttle SET key = ? WHERE key = ?", arguments: [session.blindIndex(key), key])
        }
        // In pages, so that a large store is not held in memory at once.
        var afterPK: Int64 = 0
        while true {
            let rows = try Row.fetchAll(
                db, sql: "SELECT pk, type, id, version, json FROM resource WHERE pk > ? ORDER BY pk LIMIT 1000", arguments: [afterPK])
            guard let last = rows.last else { break }
            for row in rows {
                let context = SQLiteStoreSession.resourceContext(type: row["type"], id: row["id"], version: row["version"])
                try db.execute(
                    sql: "UPDATE resource SET json = ? WHERE pk = ?",
                    arguments: [try session.seal(Array(row["json"] as Data), context: context), row["pk"] as Int64])
            }
            afterPK = last["pk"]
        }
        var after: (String, String, Int) = ("", "", 0)
        while true {
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT type, id, version, json FROM resource_history WHERE (type, id, version) > (?, ?, ?)
                    ORDER BY type, id, version LIMIT 1000
                    """, arguments: [after.0, after.1, after.2])
            guard let last = rows.last else { break }
            for row in rows {
                let (type, id, version): (String, String, Int) = (row["type"], row["id"], row["version"])
                try db.execute(
                    sql: "UPDATE resource_history SET json = ? WHERE type = ? AND id = ? AND version = ?",
                    arguments: [
                        try session.seal(Array(row["json"] as Data), context: SQLiteStoreSession.resourceContext(type: type, id: id, version: version)),
                        type, id, version,
                    ])
            }
            after = (last["type"], last["id"], last["version"])
        }
    }
}

extension ServerMigrations {
    /// Migration v13: the chain's columns, and the records already there chained in their order.
    static func chainAuditTrail(_ db: Database, key: SymmetricKey) throws {
        try db.execute(sql: """
            ALTER TABLE audit_event ADD COLUMN prev_mac BLOB;
            ALTER TABLE audit_event ADD COLUMN mac BLOB;
            """)
        let session = SQLiteStoreSession(db: db, keys: nil)
        var previous = Data()
        var after: Int64 = 0
        while true {
            let page = try session.auditEvents(after: after, limit: 1000)
            guard let last = page.last else { break }
            for (sequence, event) in page {
                let mac = AuditChain.mac(key: key, previous: previous, sequence: sequence, event: event)
                try db.execute(sql: "UPDATE audit_event SET prev_mac = ?, mac = ? WHERE seq = ?", arguments: [previous, mac, sequence])
                previous = mac
            }
            after = last.sequence
        }
    }
}
