@testable import BedsideApp
import BedsideCore
import BedsideTestSupport
import BedsideUI
import BedsideVault
import Foundation
import Testing

@testable import BedsideSync

/// The kiosk against a server it trusts that never stops sending `next` links: it reads a bounded number of
/// pages, then reports a failure the nurse can read, instead of holding every page until memory runs out.
@Suite("Kiosk and a hostile server")
struct HostileKioskTests {
    @Test("endless next links on the Flag search: at most maximumFlagPages pages are read, then alertsFailed")
    func endlessFlagPages() async throws {
        let server = try await LoopbackServer()
        let flag = #"{"resourceType":"Flag","id":"f%d","meta":{"versionId":"1","lastUpdated":"2026-12-01T10:00:00Z"},"status":"active","code":{"text":"x"},"subject":{"reference":"Patient/p1"}}"#
        let page = #"{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"https://127.0.0.1/fhir/Flag?_offset=%d"}],"entry":[{"resource":%@}]}"#
        let hostile = try HostileServer(impersonating: server) { request in
            let offset = Int(request.target.split(separator: "=").last ?? "0") ?? 0
            return .json(200, String(format: page, offset + 1, String(format: flag, offset)))
        }
        var configuration = ClientConfiguration(
            dataDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("kiosk-\(UUID().uuidString)"), server: hostile.url,
            transport: TransportConfiguration(caFile: server.caFile))
        configuration.kiosk = true
        configuration.kdf = .testing
        let core = ClientCore(configuration: configuration, clock: SystemClock())
        let grant = SessionGrant(accessToken: "t", role: "clinician", patientID: nil, practitionerID: nil, idleTimeoutSeconds: 1800)
        let started = await core.kiosk.start(grant: grant, server: hostile.url, email: "nurse@example.org", password: "lantern-orbit-meadow-42")
        #expect(started.contains { if case .loggedIn = $0 { true } else { false } }, "\(started)")
        let actions = await core.perform(.loadAlerts(after: nil))
        guard case .kiosk(.alertsFailed(let message))? = actions.first else { Issue.record("\(actions)"); return }
        #expect(message.contains("pages"), "\(message)")
        #expect(hostile.counters.requests <= KioskQueries.maximumFlagPages + 1, "\(hostile.counters)")
        #expect(!FileManager.default.fileExists(atPath: configuration.dataDirectory.path), "the kiosk writes nothing")
        hostile.stop()
        await server.stop()
    }
}
