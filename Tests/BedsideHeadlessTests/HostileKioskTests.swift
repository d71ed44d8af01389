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

    @Test("the full load takes its patients from _include: no batch after; an included entry that is not a Patient, has a bad id or is a Flag in disguise is left out")
    func includedPatients() async throws {
        let server = try await LoopbackServer()
        let bundle = #"""
            {"resourceType":"Bundle","type":"searchset","entry":[
             {"resource":{"resourceType":"Flag","id":"f1","meta":{"versionId":"1"},"status":"active","code":{"text":"Weight +3 kg"},"subject":{"reference":"Patient/p1"}},"search":{"mode":"match"}},
             {"resource":{"resourceType":"Patient","id":"p1","name":[{"text":"Marie Jansen"}]},"search":{"mode":"include"}},
             {"resource":{"resourceType":"Patient","id":"../p2","name":[{"text":"Sneaky"}]},"search":{"mode":"include"}},
             {"resource":{"resourceType":"Observation","id":"p3","name":[{"text":"Not a patient"}]},"search":{"mode":"include"}},
             {"resource":{"resourceType":"Flag","id":"f9","status":"active","code":{"text":"Injected"},"subject":{"reference":"Patient/p1"}},"search":{"mode":"include"}}
            ]}
            """#
        let hostile = try HostileServer(impersonating: server) { request in
            guard request.method == "GET", request.target.contains("_include=Flag:patient") else { return .json(500, "{}") }
            return .json(200, request.target.contains("status=active") ? bundle : #"{"resourceType":"Bundle","type":"searchset"}"#)
        }
        var configuration = ClientConfiguration(
            dataDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("kiosk-\(UUID().uuidString)"), server: hostile.url,
            transport: TransportConfiguration(caFile: server.caFile))
        configuration.kiosk = true
        configuration.kdf = .testing
        let core = ClientCore(configuration: configuration, clock: SystemClock())
        let grant = SessionGrant(accessToken: "t", role: "clinician", patientID: nil, practitionerID: nil, idleTimeoutSeconds: 1800)
        _ = await core.kiosk.start(grant: grant, server: hostile.url, email: "nurse@example.org", password: "lantern-orbit-meadow-42")
        let actions = await core.perform(.loadAlerts(after: nil))
        guard case .kiosk(.alertsLoaded(let alerts, _))? = actions.first else { Issue.record("\(actions)"); return }
        #expect(alerts.map(\.id) == ["f1"], "an included Flag is not an alert of the queue")
        #expect(alerts.first?.patientName == "Marie Jansen")
        #expect(hostile.counters.requests == 2, "two searches, no batch for the patients: \(hostile.counters)")
        hostile.stop()
        await server.stop()
    }
}
