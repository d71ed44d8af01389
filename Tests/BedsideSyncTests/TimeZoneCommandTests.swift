import BedsideCore
import BedsideServerKit
import BedsideTestSupport
import Foundation
import Testing

/// `bedside measure add --at` in a zone with daylight-saving time: the offset is that of the time entered.
@Suite("bedside measure add across daylight-saving changes")
struct TimeZoneCommandTests {
    @Test("TZ=Europe/Amsterdam and America/New_York: a July time entered now carries July's offset, on the device and on the server", arguments: [
        ("Europe/Amsterdam", "2026-07-01T09:00:00+02:00", "2026-01-10T09:00:00+01:00"),
        ("America/New_York", "2026-07-01T09:00:00-04:00", "2026-01-10T09:00:00-05:00"),
    ])
    func offsetOfTheTimeEntered(_ zone: String, _ summer: String, _ winter: String) async throws {
        let server = try await LoopbackServer()
        try await server.addPatient(KillDuringSyncTests.email)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("zone-\(UUID().uuidString)")
        let device = KillDuringSyncTests.Device(root: root, server: server, url: server.url, timeZone: zone)
        do {
            try await device.login()
            for at in ["2026-07-01 09:00", "2026-01-10 09:00"] {
                let added = try await device.start(["measure", "add", "weight", "80.5", "--at", at]).finish()
                #expect(added.status == 0, "\(added.errors)")
            }
            let listed = try await device.start(["measure", "list", "--json"]).finish()
            let times = (try JSONParser.parse(Array(listed.output)).arrayValue ?? []).compactMap { $0["time"]?.stringValue }
            #expect(times.sorted() == [winter, summer].sorted(), "\(times)")
            #expect(try await device.run(["sync"]) == 0)
            let stored = try server.sqliteStore.readNow { db in try db.search(ResourceQuery(type: "Observation")) }.resources
            let effective = stored.compactMap { try? JSONParser.parse($0.json)["effectiveDateTime"]?.stringValue }
            #expect(effective.sorted() == [winter, summer].sorted(), "\(effective)")
        } catch {
            Issue.record("\(error)")
        }
        await server.stop()
        try? FileManager.default.removeItem(at: root)
    }
}
