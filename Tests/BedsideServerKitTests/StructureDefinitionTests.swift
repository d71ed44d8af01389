import BedsideCore
import Foundation
import Testing

@testable import BedsideServerKit

/// Bedside's own extensions are described by StructureDefinitions: served publicly, shipped in
/// docs/fhir/, and enforced on input.
@Suite("Extension StructureDefinitions")
struct StructureDefinitionTests {
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/fhir").standardized

    @Test("docs/fhir holds exactly the StructureDefinitions the server serves (BEDSIDE_RECORD_SNAPSHOTS=1 writes them)")
    func shipped() throws {
        #expect(BedsideExtension.all.count == 8)
        let record = ProcessInfo.processInfo.environment["BEDSIDE_RECORD_SNAPSHOTS"] == "1"
        for known in BedsideExtension.all {
            let file = Self.docs.appendingPathComponent("StructureDefinition-\(known.id).json")
            if record {
                try FileManager.default.createDirectory(at: Self.docs, withIntermediateDirectories: true)
                try Data(known.structureDefinition.serialized()).write(to: file)
            }
            let shipped = try #require(FileManager.default.contents(atPath: file.path), "\(file.path) is missing")
            #expect(JSONParser.parseOrNil(Array(shipped)) == known.structureDefinition, "\(file.lastPathComponent) differs from what the server serves")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.docs.path).filter { $0.hasPrefix("StructureDefinition-") }
        #expect(files.count == BedsideExtension.all.count, "no StructureDefinition in docs/fhir that the server does not serve")
    }

    @Test("each is served at /fhir/StructureDefinition/[id] without a token, all of them as a searchset; an unknown one is 404")
    func served() async throws {
        try await withServer { server in
            for known in BedsideExtension.all {
                let answer = try await server.request("GET", "/fhir/StructureDefinition/\(known.id)")
                #expect(answer.status == 200 && answer.json == known.structureDefinition, "\(known.id)")
            }
            let all = try await server.request("GET", "/fhir/StructureDefinition")
            #expect(all.status == 200 && all.entries.count == BedsideExtension.all.count)
            #expect(try await server.request("GET", "/fhir/StructureDefinition/nope").status == 404)
            let metadata = try await server.request("GET", "/fhir/metadata")
            let types = metadata.json?["rest"]?.arrayValue?.first?["resource"]?.arrayValue?.compactMap { $0["type"]?.stringValue } ?? []
            #expect(types.contains("StructureDefinition"))
        }
    }

    @Test("on input, a Bedside extension must be where its definition puts it and hold its type of value")
    func enforced() {
        let validator = ResourceValidator(now: 0)
        func flag(_ extensions: [JSONValue]) -> JSONValue {
            ["resourceType": "Flag", "status": "active", "code": ["text": "x"], "subject": ["reference": "Patient/p1"], "extension": .array(extensions)]
        }
        let good = flag([
            ["url": .string(BedsideExtension.flagEscalated.url), "valueBoolean": true],
            ["url": .string(BedsideExtension.flagSnoozedUntil.url), "valueDateTime": "2026-12-05T10:00:00Z"],
            ["url": .string(BedsideExtension.flagNote.url), "valueAnnotation": ["text": "Called her", "authorString": "Nurse Anna"]],
            ["url": "https://example.org/someone-elses", "valueInteger": 3],
        ])
        #expect(validator.validate(good, as: "Flag").isEmpty)
        let bad: [(JSONValue, String)] = [
            (["url": .string(BedsideExtension.flagEscalated.url), "valueString": "yes"], "flag-escalated needs one valueBoolean"),
            (["url": .string(BedsideExtension.flagSnoozedUntil.url), "valueDateTime": "tomorrow"], "not a FHIR dateTime"),
            (["url": .string(BedsideExtension.flagNote.url), "valueAnnotation": ["authorString": "x"]], "needs a text"),
            (["url": .string(BedsideExtension.careProgramme.url), "valueCode": "copd"], "belongs on a Patient"),
        ]
        for (item, reason) in bad {
            let issues = validator.validate(flag([item]), as: "Flag")
            #expect(issues.map(\.expression) == ["Flag.extension[0]"] && issues.first?.diagnostics.contains(reason) == true, "\(issues)")
        }
    }
}
