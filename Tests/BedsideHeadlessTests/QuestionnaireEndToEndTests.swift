@testable import BedsideApp
import BedsideCore
@testable import BedsideServerKit
import BedsideTestSupport
import Foundation
import Testing

@testable import BedsideHeadless

/// A questionnaire assigned on the real server, filled in the real app (headless), and what the server
/// then holds: the response, its link to the assignment, the calculated score.
@Suite("Questionnaires end to end", .serialized)
struct QuestionnaireEndToEndTests {
    func resources(_ server: JourneyServer, _ type: String) async throws -> [JSONValue] {
        try await server.store.read { db in try db.search(ResourceQuery(type: type)) }.resources.compactMap { JSONParser.parseOrNil($0.json) }
    }

    @Test("a PHQ-9 filled in the app arrives once as a completed QuestionnaireResponse based on its Task, with the total")
    func phq9Arrives() async throws {
        let server = try await journeyServer()
        let email = "phq9-e2e@example.org"
        let password = "journey-lantern-orbit-42"
        _ = try await server.administration.addUser(email: email, role: .patient, password: password, name: "Test Patient")
        let text = try String(contentsOf: JourneyTests.scriptsDirectory.appendingPathComponent("questionnaire-phq9.bedside"), encoding: .utf8)
        try await JourneyTests.prepare(server, for: email, from: text)
        let client = JourneyClient(server: server, email: email, password: password)
        let result = await client.runner.run(try ScriptParser.parse(text, name: "questionnaire-phq9"))
        #expect(result.failed == 0, "\(client.output.joined(separator: "\n"))")

        let tasks = try await resources(server, "Task")
        let task = try #require(tasks.first)
        let responses = try await resources(server, "QuestionnaireResponse")
        #expect(responses.count == 1)
        let response = try #require(responses.first)
        #expect(response["status"]?.stringValue == "completed")
        #expect(response["basedOn"]?.arrayValue?.first?["reference"]?.stringValue == "Task/\(task["id"]?.stringValue ?? "")")
        #expect(response["questionnaire"]?.stringValue == "http://hl7.org/fhir/uv/sdc/Questionnaire/questionnaire-sdc-profile-example-PHQ9|0.0.1")
        #expect(response["identifier"]?["system"]?.stringValue == "urn:ietf:rfc:3986")
        #expect(response["identifier"]?["value"]?.stringValue?.hasPrefix("urn:uuid:") == true)
        #expect(response["authored"]?.stringValue == "2026-01-15T09:30:00+00:00")
        let group = try #require([ResponseItem](json: response["item"]).first { $0.linkId == "H1/T1" })
        let total = group.items.first { $0.linkId == "H1/TS" }?.answers.first?.value
        #expect(total?.number == 16, "\(String(describing: total))")
        #expect(group.items.count == 10, "nine answers and the total")
        #expect(ResourceValidator(now: server.clock.now()).validate(response, as: "QuestionnaireResponse").isEmpty)

        // The server closed the assignment and raised a red Flag: total 16, and item 9 answered 2.
        let completed = try #require(try await resources(server, "Task").first)
        #expect(completed["status"]?.stringValue == "completed")
        let flags = try await resources(server, "Flag")
        #expect(flags.count == 1)
        #expect(flags.first?["code"]?["text"]?.stringValue
            == "PHQ-9 total 16 (≥ 15); PHQ-9 item 9 (thoughts of being better off dead or of self-harm) answered 2")

        // A second sync sends nothing again.
        #expect(await client.runner.run(try ScriptParser.parse("sync\nexpect \"all sent\"", name: "again")).failed == 0)
        #expect(try await resources(server, "QuestionnaireResponse").count == 1)
        await client.core.lock()
        await server.stop()
    }
}
