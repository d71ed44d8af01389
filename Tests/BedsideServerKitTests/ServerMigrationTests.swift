import BedsideCore
import Foundation
import GRDB
import Testing

@testable import BedsideServerKit

/// The server's store upgrades in place: what an older version stored is found by what a newer one indexes.
@Suite("Server store migrations")
struct ServerMigrationTests {
    /// A fresh directory and the path of a store file in it; the caller removes the directory.
    static func temporaryStore() throws -> (directory: URL, path: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("migration-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return (directory, directory.appendingPathComponent("server.sqlite").path)
    }

    /// A master key made in the test's directory when the store first opens.
    static func encryption(_ directory: URL) -> StoreEncryption {
        .masterKey(MasterKeyFile(path: directory.appendingPathComponent("master.key").path))
    }

    @Test("v6 indexes the categories of the Observations stored before it, so category= finds them")
    func categoriesBackfilled() throws {
        let (directory, path) = try Self.temporaryStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        let observation = ObservationBuilder.observation(
            kind: .heartRate, values: [.init(part: .heartRate, value: 61)], effective: "2026-11-20T08:00:00+01:00", patientID: "p1",
            clientID: "c1")
        let stored = FHIRService.stamp(observation, type: .observation, id: "o1", version: 1, at: 1_795_000_000_000)
        do {
            let old = try DatabaseQueue(path: path)
            try ServerMigrations.migratorBeforeEncryption.migrate(old, upTo: "v5: an account's language for e-mail")
            try old.write { db in
                try db.execute(
                    sql: "INSERT INTO resource (type, id, version, last_updated, patient_id, status, date, json) VALUES (?, ?, 1, ?, ?, ?, ?, ?)",
                    arguments: ["Observation", "o1", stored.lastUpdated, "p1", "final", stored.date, Data(stored.json)])
            }
        }
        let store = try SQLiteServerStore(path: path, encryption: Self.encryption(directory))
        defer { try? store.close() }
        var query = ResourceQuery(type: "Observation")
        query.categories = [[.code("vital-signs", system: "http://terminology.hl7.org/CodeSystem/observation-category")]]
        #expect(try store.readNow { db in try db.search(query) }.resources.map(\.id) == ["o1"])
        query.categories = [[TokenSearch(system: nil, code: "laboratory")]]
        #expect(try store.readNow { db in try db.search(query) }.resources.isEmpty)
    }

    @Test("v9 turns the command line's memberships into one CareTeam per patient, and who sees whom stays the same")
    func careTeamsFromMemberships() throws {
        let (directory, path) = try Self.temporaryStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        let nurse = Account(
            id: "nurse", email: "nurse@example.org", role: .clinician, passwordHash: "x", displayName: "Nurse Anna", practitionerID: "pr1",
            createdAt: 0)
        let patient = Account(id: "pat", email: "pat@example.org", role: .patient, passwordHash: "x", displayName: "Pat", patientID: "p1", createdAt: 0)
        do {
            let old = try DatabaseQueue(path: path)
            try ServerMigrations.migratorBeforeEncryption.migrate(old, upTo: "v8: enrolment codes of invited patients; Patient identifiers unique server-wide")
            try old.write { db in
                let session = SQLiteStoreSession(db: db, keys: nil)
                try session.insert(nurse)
                try session.insert(patient)
                try session.addTeamMember(clinicianAccountID: "nurse", patientID: "p1")
            }
        }
        let store = try SQLiteServerStore(path: path, encryption: Self.encryption(directory))
        defer { try? store.close() }
        let teams = try store.readNow { db in try CareTeams.careTeams(of: "p1", db: db) }
        #expect(teams.count == 1)
        let team = try #require(teams.first.flatMap { JSONParser.parseOrNil($0.json) })
        #expect(CareTeams.practitionerIDs(in: team) == ["pr1"] && CareTeams.isActive(team))
        try store.writeNow { db in try CareTeams.synchronize(patientID: "p1", db: db, now: 0) }
        #expect(try store.readNow { db in try db.teamPatientIDs(clinicianAccountID: "nurse") } == ["p1"], "the nurse still sees the patient")
    }

    @Test("v10 starts an empty change feed: what was stored before is not news, each version stored after is one change")
    func changeFeed() throws {
        let (directory, path) = try Self.temporaryStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        let observation = ObservationBuilder.observation(
            kind: .heartRate, values: [.init(part: .heartRate, value: 61)], effective: "2026-11-20T08:00:00+01:00", patientID: "p1",
            clientID: "c1")
        do {
            let old = try DatabaseQueue(path: path)
            try ServerMigrations.migratorBeforeEncryption.migrate(old, upTo: "v9: care teams as CareTeam resources (the command line's memberships become one per patient)")
            try old.write { db in
                try SQLiteStoreSession(db: db, keys: nil, recordsChanges: false).put(
                    FHIRService.stamp(observation, type: .observation, id: "o1", version: 1, at: 1_795_000_000_000))
            }
        }
        let store = try SQLiteServerStore(path: path, encryption: Self.encryption(directory))
        defer { try? store.close() }
        #expect(try store.readNow { db in try db.changes(after: 0, limit: 10) }.isEmpty)
        try store.writeNow { db in try db.put(FHIRService.stamp(observation, type: .observation, id: "o1", version: 2, at: 1_795_000_001_000)) }
        let changes = try store.readNow { db in try db.changes(after: 0, limit: 10) }
        #expect(changes.map(\.id) == ["o1"] && changes.map(\.version) == [2])
        #expect(try store.readNow { db in try db.lastChangeSequence() } == changes.first?.sequence)
    }

    @Test("v11 keeps Bulk Data export jobs: one written is read back, and a job left running goes back to waiting at the next start")
    func exportJobs() throws {
        let (directory, path) = try Self.temporaryStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            let old = try DatabaseQueue(path: path)
            try ServerMigrations.migratorBeforeEncryption.migrate(old, upTo: "v10: the change feed and Subscription delivery state")
        }
        let store = try SQLiteServerStore(path: path, encryption: Self.encryption(directory))
        defer { try? store.close() }
        let job = ExportJobRecord(
            id: String(repeating: "ab", count: 16), clientID: "emr", request: Array(#"{"level":"system"}"#.utf8), status: .running,
            createdAt: 1_795_000_000_000, transactionTime: 1_795_000_000_000)
        try store.writeNow { db in try db.insert(job) }
        #expect(try store.readNow { db in try db.exportJob(id: job.id) } == job)
        #expect(try store.readNow { db in try db.heldExportJobs(clientID: "emr", at: 0) }.map(\.id) == [job.id])
        #expect(try store.writeNow { db in try db.requeueRunningExportJobs() }.map(\.id) == [job.id])
        #expect(try store.readNow { db in try db.nextExportJob() }?.status == .accepted)
    }
}
