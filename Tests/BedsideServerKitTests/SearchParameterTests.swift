import BedsideCore
import Testing

@testable import BedsideServerKit

/// One table of search parameters: what the CapabilityStatement lists is exactly what a search takes.
@Suite("Search parameter table")
struct SearchParameterTests {
    static func sample(_ type: String) -> String {
        switch type {
        case "reference": "Patient/3f2a"
        case "date": "ge2026-01-01"
        case "number": "10"
        case "special": "_lastUpdated"
        case "uri": "https://example.org/Questionnaire/phq-9"
        default: "final"
        }
    }

    @Test("every parameter listed for a type is parsed for it; one not listed is refused with not-supported", arguments: SupportedResource.allCases)
    func listedIsAccepted(_ type: SupportedResource) throws {
        let statement = CapabilityStatement.make(baseURL: "https://example.org/fhir", now: 0)
        let resource = try #require(statement["rest"]?.arrayValue?.first?["resource"]?.arrayValue?.first { $0["type"]?.stringValue == type.rawValue })
        let listed = (resource["searchParam"]?.arrayValue ?? []).compactMap { parameter -> (String, String)? in
            guard let name = parameter["name"]?.stringValue, let kind = parameter["type"]?.stringValue else { return nil }
            return (name, kind)
        }
        #expect(listed.count >= 5, "the common parameters at least")
        for (name, kind) in listed where name != "_has" {
            #expect(throws: Never.self, "\(type.rawValue)?\(name)") {
                try SearchRequest.parse(type: type, parameters: [(name, Self.sample(kind))])
            }
        }
        let unlisted = SearchParameter.table.map(\.name).filter { name in name != "_offset" && !listed.contains { $0.0 == name } }
        for name in unlisted + ["patinet"] {
            do {
                _ = try SearchRequest.parse(type: type, parameters: [(name, "x")])
                Issue.record("\(type.rawValue)?\(name) was accepted but is not listed")
            } catch {
                guard case .badRequest(_, _, let code) = error else { Issue.record("\(error)"); continue }
                #expect(code == "not-supported", "\(type.rawValue)?\(name): \(error)")
            }
        }
    }
}
