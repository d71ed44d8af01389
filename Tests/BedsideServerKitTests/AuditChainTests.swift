import BedsideCore
import Foundation
import GRDB
import Testing

@testable import BedsideServerKit

/// The audit trail is a chain: a record changed, removed or inserted is found and named.
@Suite("Audit chain")
struct AuditChainTests {
    static func event(_ index: Int, action: String = "read") -> AuditEvent {
        AuditEvent(
            at: 1_795_000_000_000 + Int64(index), actorID: "acc-\(index % 3)", actorRole: "clinician", action: action,
            resourceType: "Observation", resourceID: "o\(index)", patientID: "p\(index % 5)", outcome: "success", httpStatus: 200,
            remoteAddress: "127.0.0.1", request: "GET /fhir/Observation/o\(index)")
    }

    /// Verifies the whole trail; nil when intact.
    static func verify(_ store: SQLiteServerStore) throws -> AuditChain.Break? {
        var verifier = AuditChain.Verifier(key: store.keys.audit)
        var after: Int64 = 0
        while true {
            let links = try store.readNow { db in try db.auditLinks(after: after, limit: 7) }
            guard let last = links.last else { return nil }
            do {
                for link in links { try verifier.check(link) }
            } catch {
                return error
            }
            after = last.sequence
        }
    }

    static func tamper(_ directory: EncryptionAtRestTests.Directory, _ sql: String) throws {
        let raw = try DatabaseQueue(path: directory.databasePath)
        try raw.write { db in try db.execute(sql: sql) }
    }

    @Test("an intact trail verifies, across batches and across two stores (processes) writing in turn")
    func intact() throws {
        let directory = try EncryptionAtRestTests.Directory()
        let first = try directory.open()
        let second = try directory.open()
        for index in 1...20 {
            try (index % 2 == 0 ? first : second).writeNow { db in try db.append([Self.event(index), Self.event(index + 100)]) }
        }
        #expect(try Self.verify(first) == nil)
        #expect(try first.readNow { db in try db.auditLinks(after: 0, limit: 100) }.count == 40)
        try first.close()
        try second.close()
    }

    @Test("a changed field, a removed record, a forged insert and a cut start are each named")
    func breaks() throws {
        let directory = try EncryptionAtRestTests.Directory()
        let store = try directory.open()
        defer { try? store.close() }
        try store.writeNow { db in try db.append((1...30).map { Self.event($0) }) }
        #expect(try Self.verify(store) == nil)

        try Self.tamper(directory, "UPDATE audit_event SET patient_id = 'p-other' WHERE seq = 12")
        #expect(try Self.verify(store) == AuditChain.Break(sequence: 12, kind: .changed, previousSequence: 11))
        try Self.tamper(directory, "UPDATE audit_event SET patient_id = 'p2' WHERE seq = 12")
        #expect(try Self.verify(store) == nil, "put back as it was, it verifies again")

        try Self.tamper(directory, "DELETE FROM audit_event WHERE seq = 20")
        #expect(try Self.verify(store) == AuditChain.Break(sequence: 21, kind: .removedBefore, previousSequence: 19))

        // Renumbering to hide the gap breaks the renumbered record's MAC.
        try Self.tamper(directory, "UPDATE audit_event SET seq = 20 WHERE seq = 21")
        #expect(try Self.verify(store)?.sequence == 20)
        #expect(try Self.verify(store)?.kind == .changed)
    }

    @Test("a record inserted without the key, or the first records removed, breaks the chain there")
    func forgedAndCut() throws {
        let directory = try EncryptionAtRestTests.Directory()
        let store = try directory.open()
        defer { try? store.close() }
        try store.writeNow { db in try db.append((1...10).map { Self.event($0) }) }
        // A forger copies record 5's links onto a new record between 5 and 6.
        try Self.tamper(directory, """
            INSERT INTO audit_event (seq, at, actor_id, actor_role, action, outcome, http_status, prev_mac, mac)
            SELECT 100, at, actor_id, actor_role, 'login', outcome, http_status, mac, mac FROM audit_event WHERE seq = 5
            """)
        #expect(try Self.verify(store) == AuditChain.Break(sequence: 100, kind: .changed, previousSequence: 10))
        try Self.tamper(directory, "DELETE FROM audit_event WHERE seq = 100")
        #expect(try Self.verify(store) == nil)
        try Self.tamper(directory, "DELETE FROM audit_event WHERE seq <= 2")
        #expect(try Self.verify(store) == AuditChain.Break(sequence: 3, kind: .removedBefore, previousSequence: nil))
    }

    @Test("records written before the chain existed are chained at the upgrade (v13)")
    func upgradeChainsOldRecords() throws {
        let directory = try EncryptionAtRestTests.Directory()
        do {
            let old = try DatabaseQueue(path: directory.databasePath)
            try ServerMigrations.migratorBeforeEncryption.migrate(old)
            try old.write { db in
                for index in 1...5 {
                    let event = Self.event(index)
                    try db.execute(
                        sql: "INSERT INTO audit_event (at, actor_id, action, outcome, http_status) VALUES (?, ?, ?, ?, ?)",
                        arguments: [event.at, event.actorID, event.action, event.outcome, event.httpStatus])
                }
            }
        }
        let store = try directory.open()
        defer { try? store.close() }
        try store.writeNow { db in try db.append([Self.event(6)]) }
        #expect(try Self.verify(store) == nil)
        #expect(try store.readNow { db in try db.auditLinks(after: 0, limit: 100) }.map(\.sequence) == [1, 2, 3, 4, 5, 6])
    }

    @Test("audit verify: exit 0 and the head when intact; exit 1 naming the record when changed; a noted head cut off is found")
    func verifyCommand() async throws {
        let directory = try EncryptionAtRestTests.Directory()
        do {
            let store = try directory.open()
            try store.writeNow { db in try db.append((1...8).map { Self.event($0) }) }
            try store.close()
        }
        let intact = try await ServerExecutable.run(["audit", "verify", "--data-dir", directory.path])
        #expect(intact.status == 0, "\(intact.output) \(intact.error)")
        let head = try #require(intact.output.components(separatedBy: "Head: ").last?.split(separator: " ").first.map(String.init))
        #expect(head.hasPrefix("8:"))
        #expect(try await ServerExecutable.run(["audit", "verify", "--head", head, "--data-dir", directory.path]).status == 0)

        try Self.tamper(directory, "DELETE FROM audit_event WHERE seq >= 7")
        let cut = try await ServerExecutable.run(["audit", "verify", "--head", head, "--data-dir", directory.path])
        #expect(cut.status == 1)
        #expect(cut.output.contains("cut off the end"))
        try Self.tamper(directory, "UPDATE audit_event SET remote_address = '10.0.0.9' WHERE seq = 3")
        let changed = try await ServerExecutable.run(["audit", "verify", "--data-dir", directory.path])
        #expect(changed.status == 1)
        #expect(changed.output.contains("Audit record 3 was changed"))
        #expect(try await ServerExecutable.run(["audit", "verify", "--head", "nonsense", "--data-dir", directory.path]).status != 0)
    }
}
