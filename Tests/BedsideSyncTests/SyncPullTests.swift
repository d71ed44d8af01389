import BedsideCore
import BedsideServerKit
import BedsideStore
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideSync

/// What comes down: assignments and their questionnaires, kept for offline use, and nothing more
/// than one round trip when nothing changed.
@Suite("Pull", .serialized)
struct SyncPullTests {
    static let questionnaire: JSONValue = [
        "resourceType": "Questionnaire", "status": "active", "title": "Daily check-in",
        "item": [["linkId": "breath", "text": "Are you more short of breath than yesterday?", "type": "boolean"]],
    ]

    @Test("an assignment and its questionnaire come down once; then a no-change pull is one round trip of 304s")
    func assignmentsAndETags() async throws {
        let clock = ManualClock(epochMilliseconds: 1_795_000_000_000)
        let server = try await LoopbackServer(clock: clock)
        try await server.addPatient("gus@example.org")
        let client = try await SyncClient(server: server, email: "gus@example.org", clock: clock)
        defer { client.close() }
        _ = try await server.administration.assign(questionnaire: Self.questionnaire, patientEmail: "gus@example.org", due: nil)

        let first = await client.engine().pull(patientID: client.patientID)
        #expect(first.error == nil, "\(String(describing: first.error))")
        let tasks = try client.store.cachedResources(type: "Task")
        let questionnaires = try client.store.cachedResources(type: "Questionnaire")
        #expect(tasks.count == 1 && questionnaires.count == 1)
        #expect(questionnaires.first?.resource["title"]?.stringValue == "Daily check-in")
        #expect(first.roundTrips == 2, "the batch, then the questionnaire the new Task points at")

        clock.advance(milliseconds: 61_000)
        let second = await client.engine().pull(patientID: client.patientID)
        #expect(second.error == nil && second.received == 0)
        #expect(second.roundTrips == 1, "nothing changed: one round trip")
        #expect(second.bytesReceived < 4_000, "304s carry no bodies: \(second.bytesReceived) bytes")
        #expect(try client.store.cachedResources(type: "Questionnaire").count == 1)

        // A nurse's measurement comes down at the next pull, in the same single round trip.
        let nurse = try await SyncClient(server: server, email: "gus@example.org", clock: clock)
        try nurse.addWeights(1)
        #expect(await nurse.push().sent == 1)
        nurse.close()
        let third = await client.engine().pull(patientID: client.patientID)
        #expect(third.received == 1 && third.roundTrips == 1)
        await server.stop()
    }

    @Test("the cursor follows the server's clock, not a wrong one on this computer")
    func clockSkew() async throws {
        let serverClock = ManualClock(epochMilliseconds: 1_795_000_000_000)
        // This computer is two hours behind.
        let deviceClock = ManualClock(epochMilliseconds: 1_795_000_000_000 - 7_200_000)
        let server = try await LoopbackServer(clock: serverClock)
        try await server.addPatient("hal@example.org")
        let device = try await SyncClient(server: server, email: "hal@example.org", clock: deviceClock)
        let other = try await SyncClient(server: server, email: "hal@example.org", clock: serverClock)
        defer {
            device.close()
            other.close()
        }
        let pulled = await device.engine().pull(patientID: device.patientID)
        #expect(pulled.serverClockOffset == 7_200_000, "the server is two hours ahead")
        #expect(try device.store.setting("clockOffset") == "7200000")
        serverClock.advance(milliseconds: 5_000)
        try other.addWeights(2)
        #expect(await other.push().sent == 2)
        // The cursor is the server's time, so what was written after the first pull comes down, whatever this clock says.
        let next = await device.engine().pull(patientID: device.patientID)
        #expect(next.received == 2)
        await server.stop()
    }

    @Test("a value set a form points at comes down with it and is kept; a later no-change pull is still one round trip")
    func valueSets() async throws {
        let clock = ManualClock(epochMilliseconds: 1_795_000_000_000)
        let server = try await LoopbackServer(clock: clock)
        try await server.addPatient("ivy@example.org")
        let client = try await SyncClient(server: server, email: "ivy@example.org", clock: clock)
        defer { client.close() }
        let form: JSONValue = [
            "resourceType": "Questionnaire", "status": "active", "title": "Visit", "url": "http://example.org/q/visit",
            "item": [["linkId": "service", "text": "Service type", "type": "choice", "answerValueSet": "http://example.org/vs/service|2"]],
        ]
        let valueSet: JSONValue = [
            "resourceType": "ValueSet", "url": "http://example.org/vs/service", "status": "active",
            "expansion": ["contains": [["system": "http://example.org/cs", "code": "nursing", "display": "Nursing"],
                ["system": "http://example.org/cs", "code": "physio", "display": "Physiotherapy"]]],
        ]
        _ = try await server.administration.assign(questionnaire: form, patientEmail: "ivy@example.org", due: nil, valueSets: [valueSet])
        let first = await client.engine().pull(patientID: client.patientID)
        #expect(first.error == nil, "\(String(describing: first.error))")
        let kept = try client.store.cachedResources(type: "ValueSet")
        #expect(kept.map { $0.resource["url"]?.stringValue } == ["http://example.org/vs/service"])
        #expect(first.roundTrips == 3, "the batch, the new questionnaire, then its value set")
        let keptValueSet = try #require(kept.first)
        let codes = try #require(ValueSetCodes.codings(of: keptValueSet.resource))
        #expect(codes.map(\.display) == ["Nursing", "Physiotherapy"])

        clock.advance(milliseconds: 61_000)
        let second = await client.engine().pull(patientID: client.patientID)
        #expect(second.error == nil && second.roundTrips == 1)
        #expect(second.bytesReceived < 4_000, "\(second.bytesReceived) bytes")
        #expect(try client.store.cachedResources(type: "ValueSet").count == 1)
        await server.stop()
    }
}
