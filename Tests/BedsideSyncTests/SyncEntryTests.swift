import BedsideCore
import Testing

@testable import BedsideStore
@testable import BedsideSync

/// What a queued change becomes on the wire.
@Suite("Sync entries")
struct SyncEntryTests {
    @Test("a withdrawn reading known only by its day is sent back with that day, not a made-up midnight with an offset")
    func withdrawKeepsPrecision() {
        var record = MeasurementRecord(
            id: "3c2b1a0f-9e8d-4c7b-a6f5-e4d3c2b1a0f9", kind: .bodyWeight, values: [.init(part: .bodyWeight, literal: "80.1")],
            effectiveAt: 1_795_000_000_000, utcOffsetSeconds: 3600, syncState: .withdrawn, serverID: "obs-7", serverVersion: 2,
            timePrecision: .day)
        let withdraw = SyncEngine.entry(for: ClientStore.OutboxItem(sequence: 1, operation: .withdraw, record: record), patientID: "p1")
        #expect(withdraw["resource"]?["effectiveDateTime"]?.stringValue == "2026-11-18")
        #expect(withdraw["resource"]?["status"]?.stringValue == "entered-in-error")
        record.timePrecision = .time
        let create = SyncEngine.entry(for: ClientStore.OutboxItem(sequence: 2, operation: .create, record: record), patientID: "p1")
        #expect(create["resource"]?["effectiveDateTime"]?.stringValue == "2026-11-18T12:06:40+01:00")
    }
}
