import Foundation
import Testing

@testable import BedsideCore

/// The PHQ-9 alert rule on the two public PHQ-9 forms (one LOINC-coded in German, one uncoded).
@Suite("PHQ-9 alert rule")
struct PHQ9RuleTests {
    static func form(_ name: String) throws -> Questionnaire { try Questionnaire(json: try QuestionnaireFixtureTests.load(name)) }

    /// Answers for the SDC form: Q1...Q9 by code.
    static func sdc(_ codes: [String]) -> JSONValue {
        .object(JSONObject(codes.enumerated().map { (key: "H1/T1/Q\($0 + 1)", value: JSONValue.string($1)) }))
    }

    /// Answers for the MII form: LOINC answer codes by score 0...3.
    static func mii(_ scores: [Int]) -> JSONValue {
        let codes = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]
        return .object(JSONObject(scores.enumerated().map { (key: "PHQ-9.\($0 + 1)", value: JSONValue.string(codes[$1])) }))
    }

    func alert(_ file: String, _ answers: JSONValue) throws -> Alert? {
        let questionnaire = try Self.form(file)
        return PHQ9Rule.evaluate(questionnaire, answers: try AnswerSheet.responseItems(answers, for: questionnaire))
    }

    @Test("both public PHQ-9s are recognised, and their nine scored items found; other forms are not PHQ-9s")
    func recognition() throws {
        for file in ["phq-9-sdc.json", "phq-9-mii-de.json"] {
            let questionnaire = try Self.form(file)
            #expect(PHQ9Rule.recognises(questionnaire), "\(file)")
            #expect(PHQ9Rule.scoredItems(of: questionnaire).count == 9, "\(file)")
        }
        #expect(PHQ9Rule.scoredItems(of: try Self.form("phq-9-mii-de.json")).last?.linkId == "PHQ-9.9")
        #expect(PHQ9Rule.scoredItems(of: try Self.form("phq-9-sdc.json")).last?.linkId == "H1/T1/Q9")
        for other in ["gad-7-rkof.json", "weight-height-bmi-sdc.json", "enablewhen-sdc.json"] {
            #expect(!PHQ9Rule.recognises(try Self.form(other)), "\(other)")
        }
    }

    @Test("total 14 with item 9 'not at all': no alert; total 15: red; item 9 above zero at any total: red")
    func thresholds() throws {
        let none = "Not-at-all", some = "Several-days", half = "More than half the days"
        #expect(try alert("phq-9-sdc.json", Self.sdc([half, half, half, half, half, half, some, some, none])) == nil)  // 14
        let fifteen = try #require(try alert("phq-9-sdc.json", Self.sdc([half, half, half, half, half, half, some, some, some])))
        #expect(fifteen.priority == .red)
        #expect(fifteen.summary == "PHQ-9 total 15 (≥ 15)")
        #expect(fifteen.reasons.count == 2, "item 9 was answered 1 too: \(fifteen.reasons)")
        let low = try #require(try alert("phq-9-sdc.json", Self.sdc([none, none, some, some, none, none, none, none, some])))
        #expect(low.reasons == ["PHQ-9 item 9 (thoughts of being better off dead or of self-harm) answered 1"])
        #expect(try alert("phq-9-sdc.json", Self.sdc(Array(repeating: none, count: 9))) == nil)
    }

    @Test("the coded German form: scored by LOINC codes; all 'nearly every day' is 27; item 9 alone at 2 alerts")
    func codedForm() throws {
        let all = try #require(try alert("phq-9-mii-de.json", Self.mii(Array(repeating: 3, count: 9))))
        #expect(all.summary == "PHQ-9 total 27 (≥ 15)")
        #expect(all.code.code == "44261-6")
        #expect(try alert("phq-9-mii-de.json", Self.mii([2, 2, 2, 2, 2, 2, 2, 0, 0])) == nil)  // 14
        let nine = try #require(try alert("phq-9-mii-de.json", Self.mii([0, 0, 0, 0, 0, 0, 0, 0, 2])))
        #expect(nine.reasons.first?.hasSuffix("answered 2") == true)
    }

    @Test("a total the client wrote is not trusted: the rule scores the answers itself")
    func ignoresSentTotal() throws {
        let questionnaire = try Self.form("phq-9-sdc.json")
        var items = try AnswerSheet.responseItems(Self.sdc(Array(repeating: "Not-at-all", count: 9)), for: questionnaire)
        items = items.map { item in
            var item = item
            item.items = item.items.map { child in
                var child = child
                if child.linkId == "H1/TS" { child.answers = [ResponseAnswer(value: .quantity(.init(value: "27")))] }
                return child
            }
            return item
        }
        #expect(PHQ9Rule.evaluate(questionnaire, answers: items) == nil)
    }
}
