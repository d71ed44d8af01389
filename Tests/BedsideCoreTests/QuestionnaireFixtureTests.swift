import Foundation
import Testing

@testable import BedsideCore

/// The engine against real, public questionnaires (Tests/Fixtures/Questionnaires, licences in
/// SOURCES.md) and the results their sources or published scoring rules require (expected.json).
@Suite("Public questionnaires")
struct QuestionnaireFixtureTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/Questionnaires").standardized

    static var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".json") && $0 != "expected.json" }.sorted()
    }

    static func load(_ name: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) else {
            throw AnswerError(linkId: "", message: "cannot read \(name)")
        }
        return try JSONParser.parse(Array(data))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var file: String
        var name: String
        var json: JSONValue
        var testDescription: String { "\(file): \(name)" }
    }

    static var cases: [Case] {
        guard let expected = try? load("expected.json"), let forms = expected["questionnaires"]?.objectValue else { return [] }
        return forms.flatMap { file, form in (form["cases"]?.arrayValue ?? []).map { Case(file: file, name: $0["name"]?.stringValue ?? "?", json: $0) } }
    }

    static func answers(_ linkId: String, in items: [ResponseItem]) -> [AnswerValue] {
        for item in items {
            if item.linkId == linkId { return item.answers.map(\.value) }
            let inner = answers(linkId, in: item.items + item.answers.flatMap(\.items))
            if !inner.isEmpty { return inner }
        }
        return []
    }

    @Test("there are at least ten, in more than one language")
    func enough() throws {
        #expect(Self.files.count >= 10)
        let languages = Set(try Self.files.compactMap { try Self.load($0)["language"]?.stringValue?.prefix(2) })
        #expect(languages.count >= 2, "\(languages)")
    }

    @Test("each parses without losing an item; what a terminal cannot do is named, and nothing blocks answering", arguments: QuestionnaireFixtureTests.files)
    func parses(_ file: String) throws {
        let json = try Self.load(file)
        let form = try Questionnaire(json: json)
        // Every item in the JSON, however deep, is in the model.
        func count(_ items: [JSONValue]?) -> Int { (items ?? []).reduce(0) { $0 + 1 + count($1["item"]?.arrayValue) } }
        #expect(form.allItems.count == count(json["item"]?.arrayValue))
        #expect(form.source == json, "the resource is kept as written")
        let blocking = form.problems().filter(\.blocksAnswering)
        #expect(blocking.isEmpty, "\(blocking)")
    }

    @Test("the cases are there: an unreadable expected.json would pass by checking nothing")
    func casesExist() {
        #expect(Self.cases.count >= 10)
    }

    @Test("enableWhen and scores give what the source or its scoring rule requires", arguments: QuestionnaireFixtureTests.cases)
    func expected(_ example: Case) throws {
        let form = try Questionnaire(json: try Self.load(example.file))
        let items = try AnswerSheet.responseItems(example.json["answers"] ?? [:], for: form)
        let enabled = EnableWhenEvaluator(questionnaire: form).enabledLinkIds(items)
        for linkId in (example.json["enabled"]?.arrayValue ?? []).compactMap(\.stringValue) {
            #expect(enabled.contains(linkId), "\(linkId) should be enabled")
        }
        for linkId in (example.json["disabled"]?.arrayValue ?? []).compactMap(\.stringValue) {
            #expect(!enabled.contains(linkId), "\(linkId) should be disabled")
        }
        let pruned = EnableWhenEvaluator(questionnaire: form).prune(items)
        if let score = example.json["score"]?.doubleValue {
            #expect(form.score(of: pruned) == score)
        }
        // PHQ-9's total is the sum of its items' ordinal values: the same number the form's calculated item must show.
        if example.file.hasPrefix("phq-9"), let total = example.json["calculated"]?.objectValue?.members.first?.value.doubleValue {
            #expect(form.score(of: pruned) == total)
        }
        // Calculated items (SDC calculatedExpression, run by the FHIRPath engine) give the required values.
        if let calculated = example.json["calculated"]?.objectValue {
            let fill = try QuestionnaireFill(form, answers: example.json["answers"] ?? [:], now: 1_767_225_600_000)
            #expect(fill.calculationProblems.isEmpty, "\(fill.calculationProblems)")
            let expectations = try Self.load("expected.json")
            let places = expectations["questionnaires"]?[example.file]?["tolerance_places"]?.intValue ?? 6
            for (linkId, expected) in calculated {
                let answer = Self.answers(linkId, in: fill.items).first
                switch expected {
                case .null: #expect(answer == nil, "\(linkId): \(String(describing: answer))")
                case .string(let text):
                    let got: String? = if case .coding(let coding)? = answer { coding.code } else { answer?.text }
                    #expect(got == text, "\(linkId)")
                default:
                    let wanted = expected.doubleValue ?? .nan
                    let got = answer?.number ?? .nan
                    #expect(abs(got - wanted) < pow(10, -Double(places)), "\(linkId): \(got) != \(wanted)")
                }
            }
        }
        // The answers make a response that names only enabled items.
        let response = QuestionnaireResponseWriter(questionnaire: form).response(pruned, status: "completed")
        func linkIds(_ items: [JSONValue]?) -> [String] {
            (items ?? []).flatMap { item in
                [item["linkId"]?.stringValue ?? ""] + linkIds(item["item"]?.arrayValue)
                    + (item["answer"]?.arrayValue ?? []).flatMap { linkIds($0["item"]?.arrayValue) }
            }
        }
        #expect(linkIds(response["item"]?.arrayValue).allSatisfy { enabled.contains($0) })
    }
}
