import Testing

@testable import BedsideCore

/// The questionnaire engine without a terminal: reading forms, enableWhen, answers and the response.
@Suite("Questionnaire engine")
struct QuestionnaireTests {
    static func form(_ text: String) throws -> Questionnaire { try Questionnaire(json: try JSONParser.parse(Array(text.utf8))) }

    static let checkIn = """
        {"resourceType":"Questionnaire","id":"hf","url":"http://example.org/q/hf","version":"2","status":"active","title":"HF check-in",
         "item":[
          {"linkId":"breath","text":"More breathless?","type":"boolean","required":true,
           "_text":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/translation",
             "extension":[{"url":"lang","valueCode":"nl"},{"url":"content","valueString":"Meer kortademig?"}]}]}},
          {"linkId":"how","text":"How much?","type":"choice","enableWhen":[{"question":"breath","operator":"=","answerBoolean":true}],
           "answerOption":[{"valueCoding":{"code":"a","display":"A little"},
             "extension":[{"url":"http://hl7.org/fhir/StructureDefinition/ordinalValue","valueDecimal":1}]},
            {"valueCoding":{"code":"b","display":"A lot"}}]},
          {"linkId":"weight","text":"Weight","type":"decimal",
           "extension":[{"url":"http://hl7.org/fhir/StructureDefinition/minValue","valueDecimal":20},
             {"url":"http://hl7.org/fhir/StructureDefinition/maxValue","valueDecimal":300},
             {"url":"http://hl7.org/fhir/StructureDefinition/maxDecimalPlaces","valueInteger":1},
             {"url":"http://example.org/unknown-extension","valueString":"ignored"}]},
          {"linkId":"heavy","text":"Heavy?","type":"display","enableWhen":[{"question":"weight","operator":">=","answerDecimal":100}]},
          {"linkId":"meds","type":"group","repeats":true,"item":[
            {"linkId":"med","text":"Medicine","type":"string","maxLength":20},
            {"linkId":"missed","text":"Missed?","type":"boolean"},
            {"linkId":"why","text":"Why?","type":"string","enableWhen":[{"question":"missed","operator":"=","answerBoolean":true}]}]},
          {"linkId":"either","text":"Any","type":"string","enableBehavior":"any",
           "enableWhen":[{"question":"how","operator":"=","answerCoding":{"code":"b"}},{"question":"weight","operator":"exists","answerBoolean":true}]},
          {"linkId":"photo","text":"Photo of your ankles","type":"attachment"},
          {"linkId":"sym","text":"Symptom","type":"choice","answerValueSet":"#symptoms"},
          {"linkId":"cond","text":"Condition","type":"choice","answerValueSet":"http://example.org/ValueSet/not-here"}],
         "contained":[{"resourceType":"ValueSet","id":"symptoms","status":"active",
           "compose":{"include":[{"system":"http://snomed.info/sct","concept":[{"code":"267036007","display":"Dyspnea"},{"code":"49727002","display":"Cough"}]}]}}]}
        """

    func fill(_ answers: String) throws -> QuestionnaireFill {
        try QuestionnaireFill(try Self.form(Self.checkIn), answers: try JSONParser.parse(Array(answers.utf8)))
    }

    @Test("a pattern the answer misses is explained in the form's own validationtext, else by its entryFormat")
    func validationText() throws {
        let questionnaire = try Self.form("""
            {"resourceType":"Questionnaire","status":"active","item":[
             {"linkId":"nhs","text":"NHS number","type":"string","extension":[
              {"url":"http://hl7.org/fhir/StructureDefinition/regex","valueString":"[0-9]{10}"},
              {"url":"http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-validationtext","valueString":"Ten digits, no spaces."},
              {"url":"http://hl7.org/fhir/StructureDefinition/entryFormat","valueString":"9434765919"}]},
             {"linkId":"post","text":"Postcode","type":"string","extension":[
              {"url":"http://hl7.org/fhir/StructureDefinition/regex","valueString":"[0-9]{4} ?[A-Z]{2}"},
              {"url":"http://hl7.org/fhir/StructureDefinition/entryFormat","valueString":"1234 AB"}]}]}
            """)
        let nhs = try #require(questionnaire.item("nhs"))
        #expect(nhs.extensions.validationText == "Ten digits, no spaces.")
        #expect(AnswerRules.problem(with: .string("943 476 5919"), for: nhs) == "Ten digits, no spaces.")
        #expect(AnswerRules.problem(with: .string("9434765919"), for: nhs) == nil)
        #expect(AnswerRules.problem(with: .string("1234"), for: try #require(questionnaire.item("post"))) == "Write it like 1234 AB.")
    }

    @Test("an empty text is no answer in the response (FHIR JSON has no empty strings); drafts keep the tree exactly")
    func emptyTextAndDrafts() throws {
        let questionnaire = try Self.form(Self.checkIn)
        let items = [
            ResponseItem(linkId: "breath", answers: [ResponseAnswer(value: .boolean(false))]),
            ResponseItem(linkId: "meds", items: [ResponseItem(linkId: "med", answers: [ResponseAnswer(value: .string(""))])]),
            ResponseItem(linkId: "meds"),
        ]
        let response = QuestionnaireResponseWriter(questionnaire: questionnaire).response(items, status: "completed", identifier: "urn:uuid:1")
        #expect(response["item"]?.arrayValue?.map { $0["linkId"]?.stringValue } == ["breath"])
        #expect(response["identifier"]?["value"]?.stringValue == "urn:uuid:1", "one Identifier, not a list")
        // The draft's own JSON keeps the empty second repetition and the empty text.
        #expect([ResponseItem](json: items.json) == items)
    }

    @Test("reading keeps every item, its rules, scores, translations, contained value sets; unknown extensions are ignored")
    func reading() throws {
        let form = try Self.form(Self.checkIn)
        #expect(form.allItems.map(\.linkId) == ["breath", "how", "weight", "heavy", "meds", "med", "missed", "why", "either", "photo", "sym", "cond"])
        #expect(form.item("breath")?.text(in: "nl") == "Meer kortademig?")
        #expect(form.item("breath")?.text(in: "nl-BE") == "Meer kortademig?")
        #expect(form.item("breath")?.text(in: "de") == "More breathless?")
        #expect(form.item("how")?.answerOptions.first?.score == 1)
        #expect(form.item("weight")?.extensions.maxDecimalPlaces == 1)
        #expect(form.item("weight")?.extensions.ignored == ["http://example.org/unknown-extension"])
        #expect(form.options(for: form.item("sym")!)?.map(\.value) == [
            .coding(.init(system: "http://snomed.info/sct", code: "267036007", display: "Dyspnea")),
            .coding(.init(system: "http://snomed.info/sct", code: "49727002", display: "Cough")),
        ])
        #expect(form.options(for: form.item("cond")!) == nil, "an external value set not cached is unresolved")
        let problems = form.problems()
        #expect(problems.map(\.linkId) == ["photo", "cond"])
        #expect(problems.allSatisfy { !$0.blocksAnswering }, "neither is required, so the form stays answerable")
    }

    @Test("enableWhen: a false boolean hides its follow-up; each repetition of a group answers for itself")
    func enableWhen() throws {
        let filled = try fill(#"{"breath": false, "how": "b", "meds": [{"med": "furosemide", "missed": true, "why": "forgot"}, {"med": "ramipril", "missed": false, "why": "n/a"}]}"#)
        let response = filled.response()
        let top = response["item"]?.arrayValue?.compactMap { $0["linkId"]?.stringValue }
        #expect(top == ["breath", "meds", "meds"], "how is hidden; the display item carries no answer")
        let repetitions = response["item"]?.arrayValue?.filter { $0["linkId"]?.stringValue == "meds" } ?? []
        #expect(repetitions[0]["item"]?.arrayValue?.map { $0["linkId"]?.stringValue } == ["med", "missed", "why"])
        #expect(repetitions[1]["item"]?.arrayValue?.map { $0["linkId"]?.stringValue } == ["med", "missed"])
        #expect(response["status"]?.stringValue == "completed")
        #expect(response["questionnaire"]?.stringValue == "http://example.org/q/hf|2")
    }

    @Test("operators: >= on decimals, = on codings, exists, and enableBehavior any")
    func operators() throws {
        let evaluator = EnableWhenEvaluator(questionnaire: try Self.form(Self.checkIn))
        let form = try Self.form(Self.checkIn)
        func enabled(_ linkId: String, _ answers: [ResponseItem]) -> Bool { evaluator.isEnabled(form.item(linkId)!, scopes: [answers]) }
        let heavy = [ResponseItem(linkId: "weight", answers: [.init(value: .decimal("100.0"))])]
        let light = [ResponseItem(linkId: "weight", answers: [.init(value: .decimal("99.9"))])]
        #expect(enabled("heavy", heavy) && !enabled("heavy", light))
        #expect(!enabled("heavy", []), "no answer: only exists can be true")
        #expect(enabled("either", light), "any: weight exists")
        #expect(enabled("either", [ResponseItem(linkId: "how", answers: [.init(value: .coding(.init(system: "x", code: "b")))])]))
        #expect(!enabled("either", [ResponseItem(linkId: "how", answers: [.init(value: .coding(.init(code: "a")))])]))
        for (op, expected) in [("!=", [true, false]), ("<", [true, false]), ("<=", [true, true]), (">", [false, false])] {
            let item = try Self.form("""
                {"resourceType":"Questionnaire","status":"active","item":[{"linkId":"n","type":"integer"},
                 {"linkId":"t","type":"string","enableWhen":[{"question":"n","operator":"\(op)","answerInteger":5}]}]}
                """)
            let e = EnableWhenEvaluator(questionnaire: item)
            let results = [4, 5].map { e.isEnabled(item.item("t")!, scopes: [[ResponseItem(linkId: "n", answers: [.init(value: .integer($0))])]]) }
            #expect(results == expected, "\(op)")
        }
    }

    @Test("answers are checked: type, choices, range, decimals, length, required; the message names the item")
    func checks() throws {
        #expect(throws: AnswerError(linkId: "how", message: #"Item how: "c" is not one of the choices (a, b)."#)) {
            try fill(#"{"breath": true, "how": "c"}"#)
        }
        #expect(throws: AnswerError(linkId: "breath", message: "Item breath: answer true or false.")) { try fill(#"{"breath": "yes"}"#) }
        #expect(throws: AnswerError(linkId: "nope", message: "The form has no item 'nope'.")) { try fill(#"{"nope": 1}"#) }
        let wrong = try fill(#"{"weight": 412.25, "meds": [{"med": "a very long medicine name indeed"}]}"#)
        #expect(wrong.problems.map(\.message) == [
            "Item breath needs an answer.", "Item weight: The highest allowed is 300.", "Item med: At most 20 characters (this has 32).",
        ])
        #expect(try fill(#"{"breath": false, "weight": 82.25}"#).problems.map(\.message) == ["Item weight: At most 1 decimal place(s)."])
        #expect(wrong.response()["status"]?.stringValue == "in-progress")
        let coded = try fill(#"{"breath": true, "sym": "Cough", "cond": "heart failure"}"#)
        #expect(coded.problems.isEmpty)
        let items = coded.response()["item"]?.arrayValue ?? []
        #expect(items.first { $0["linkId"]?.stringValue == "sym" }?["answer"]?.arrayValue?.first?["valueCoding"]?["code"]?.stringValue == "49727002")
        #expect(items.first { $0["linkId"]?.stringValue == "cond" }?["answer"]?.arrayValue?.first?["valueString"]?.stringValue == "heart failure",
            "an unresolvable value set falls back to free text")
    }

    @Test("not a questionnaire, a missing or repeated linkId: clear errors")
    func errors() throws {
        #expect(throws: QuestionnaireError.notAQuestionnaire("Patient")) { try Self.form(#"{"resourceType":"Patient"}"#) }
        #expect(throws: QuestionnaireError.missingLinkId(path: "Questionnaire.item[0].item[1]")) {
            try Self.form(#"{"resourceType":"Questionnaire","item":[{"linkId":"g","type":"group","item":[{"linkId":"a","type":"string"},{"type":"string"}]}]}"#)
        }
        #expect(throws: QuestionnaireError.duplicateLinkId("a")) {
            try Self.form(#"{"resourceType":"Questionnaire","item":[{"linkId":"a","type":"string"},{"linkId":"a","type":"string"}]}"#)
        }
    }
}
