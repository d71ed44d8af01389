import Foundation
import BedsideCore
import Testing

@testable import BedsideUI

/// The questionnaire screen driven by keys, as a patient would.
@Suite("Questionnaire screen")
struct QuestionnaireScreenTests {
    static let form = """
        {"resourceType":"Questionnaire","id":"hf","status":"active","title":"Heart failure check-in","item":[
         {"linkId":"breath","text":"Are you more short of breath than yesterday?","type":"boolean","required":true},
         {"linkId":"how","text":"How much more?","type":"choice","enableWhen":[{"question":"breath","operator":"=","answerBoolean":true}],
          "answerOption":[{"valueCoding":{"code":"a","display":"A little"}},{"valueCoding":{"code":"b","display":"A lot"}}]},
         {"linkId":"weight","text":"Your weight this morning","type":"decimal",
          "extension":[{"url":"http://hl7.org/fhir/StructureDefinition/maxValue","valueDecimal":300},
           {"url":"http://hl7.org/fhir/StructureDefinition/questionnaire-unit","valueCoding":{"system":"http://unitsofmeasure.org","code":"kg","display":"kg"}}]},
         {"linkId":"meds","text":"Medicines","type":"group","repeats":true,"item":[
           {"linkId":"med","text":"Name","type":"string"},
           {"linkId":"missed","text":"Did you miss a dose?","type":"boolean"},
           {"linkId":"why","text":"Why?","type":"string","enableWhen":[{"question":"missed","operator":"=","answerBoolean":true}]}]},
         {"linkId":"symptoms","text":"Which of these do you have?","type":"open-choice","repeats":true,
          "answerOption":[{"valueString":"Swollen ankles"},{"valueString":"Cough"},{"valueString":"Dizziness"}]}]}
        """

    func session() throws -> QuestionnaireSession {
        QuestionnaireSession(questionnaire: try Questionnaire(json: try JSONParser.parse(Array(Self.form.utf8))))
    }

    func type(_ session: inout QuestionnaireSession, _ text: String) {
        for character in text { _ = session.handle(.character(character), language: .en) }
    }

    func screen(_ session: QuestionnaireSession, width: Int = 80, height: Int = 24) -> String {
        var state = AppState(width: width, height: height, now: 0, utcOffsetSeconds: 0, language: .en, hasAccount: true, server: "", idSeed: 1)
        state.stack = [.questionnaire(session)]
        return render(state).text
    }

    @Test("a whole form by keys: follow-ups appear, a refused value says why, a repeating group repeats, the review sends")
    func fillByKeys() throws {
        var s = try session()
        #expect(s.pages.count == 7, "breath, weight, med, missed, add another, symptoms, review")
        #expect(screen(s).contains("1 of 5"))
        #expect(s.handle(.character("y"), language: .en) == .changed)
        #expect(screen(s).contains("How much more?"), "the follow-up appears once breath is yes")
        _ = s.handle(.down, language: .en)
        _ = s.handle(.enter, language: .en)
        type(&s, "412")
        #expect(s.handle(.enter, language: .en) == .none)
        #expect(screen(s).contains("The highest allowed is 300."))
        #expect(screen(s).contains("Your weight this morning"), "still on the same question")
        for _ in 0..<3 { _ = s.handle(.backspace, language: .en) }
        type(&s, "82,5")
        #expect(s.handle(.enter, language: .en) == .changed)
        #expect(screen(s).contains("Medicines 1"))
        type(&s, "furosemide")
        _ = s.handle(.enter, language: .en)
        _ = s.handle(.character("y"), language: .en)
        #expect(screen(s).contains("Why?"))
        type(&s, "forgot")
        _ = s.handle(.enter, language: .en)
        #expect(screen(s).contains("Add another: Medicines? (y/n)"))
        #expect(s.handle(.character("y"), language: .en) == .changed)
        #expect(screen(s).contains("Medicines 2"))
        type(&s, "ramipril")
        _ = s.handle(.enter, language: .en)
        _ = s.handle(.character("n"), language: .en)
        _ = s.handle(.character("n"), language: .en)
        #expect(screen(s).contains("Which of these do you have?"))
        _ = s.handle(.character(" "), language: .en)
        _ = s.handle(.down, language: .en)
        _ = s.handle(.down, language: .en)
        _ = s.handle(.character(" "), language: .en)
        _ = s.handle(.down, language: .en)
        type(&s, "short of breath at night")
        #expect(screen(s).contains("[x] Swollen ankles") && screen(s).contains("[x] Dizziness"))
        #expect(s.handle(.enter, language: .en) == .changed)
        let review = screen(s)
        #expect(review.contains("Check your answers"))
        #expect(review.contains("A lot") && review.contains("82.5 kg") == false && review.contains("82.5"))
        #expect(s.handle(.enter, language: .en) == .submit)

        let response = QuestionnaireResponseWriter(questionnaire: s.questionnaire).response(s.enabledAnswers, status: "completed")
        let items = response["item"]?.arrayValue ?? []
        #expect(items.compactMap { $0["linkId"]?.stringValue } == ["breath", "how", "weight", "meds", "meds", "symptoms"])
        #expect(items[2]["answer"]?.arrayValue?.first?["valueDecimal"] == .number("82.5"))
        #expect(items[3]["item"]?.arrayValue?.count == 3 && items[4]["item"]?.arrayValue?.count == 2)
        #expect(items[5]["answer"]?.arrayValue?.compactMap { $0["valueString"]?.stringValue } == [
            "Swollen ankles", "Dizziness", "short of breath at night",
        ])

        // Back to the first page: a "no" removes the follow-up from the pages and from what is sent.
        s.go(to: 0)
        _ = s.handle(.character("n"), language: .en)
        #expect(!s.pages.contains(.question(ItemPath().appending("how"))))
        let changed = QuestionnaireResponseWriter(questionnaire: s.questionnaire).response(s.enabledAnswers, status: "completed")
        #expect(changed["item"]?.arrayValue?.contains { $0["linkId"]?.stringValue == "how" } == false)
    }

    @Test("the review will not send while a required question is unanswered, and says which")
    func requiredBeforeSending() throws {
        var s = try session()
        s.go(to: s.pages.count - 1)
        #expect(screen(s).contains("needs an answer"))
        #expect(s.handle(.enter, language: .en) == .none)
        #expect(s.problem == "Item breath needs an answer.")
    }

    @Test("every page fits 80x24 and 40x12 without losing its question", arguments: [(80, 24), (40, 12)])
    func smallScreens(_ size: (Int, Int)) throws {
        let form = try Questionnaire(json: try JSONParser.parse(Array(Self.form.utf8)))
        let pages = previewPages(form, width: size.0, height: size.1, language: .en, formLanguage: nil, now: 0)
        #expect(pages.count == 7)
        for page in pages {
            let lines = page.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == size.1 && lines.allSatisfy { TextWidth.columns(of: String($0)) <= size.0 })
        }
        #expect(pages[0].contains("Are you more short"))
    }
}

@Suite("Public questionnaires on screen")
struct PublicQuestionnaireScreenTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/Questionnaires").standardized

    static var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".json") && $0 != "expected.json" }.sorted()
    }

    @Test("the public questionnaires are there: a moved folder would pass by drawing none")
    func filesExist() {
        #expect(Self.files.count >= 10, "\(Self.directory.path)")
    }

    @Test("every page of every public questionnaire fits 80x24, and each question's text is on its page", arguments: PublicQuestionnaireScreenTests.files)
    func fits(_ file: String) throws {
        let data = try #require(FileManager.default.contents(atPath: Self.directory.appendingPathComponent(file).path))
        let form = try Questionnaire(json: try JSONParser.parse(Array(data)))
        let pages = previewPages(form, width: 80, height: 24, language: .en, formLanguage: form.language, now: 0)
        #expect(pages.count >= 2)
        for page in pages {
            let lines = page.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == 24 && lines.allSatisfy { TextWidth.columns(of: String($0)) <= 80 })
        }
        // The first words of each top-level question appear on some page.
        for item in form.items where item.type.isQuestion && !item.extensions.hidden && item.enableWhen.isEmpty {
            guard let text = item.text(in: form.language) else { continue }
            let start = String(TextWidth.wrap(text, width: 40).first?.prefix(20) ?? "")
            #expect(pages.contains { $0.contains(start) }, "\(item.linkId): \(start)")
        }
    }
}
