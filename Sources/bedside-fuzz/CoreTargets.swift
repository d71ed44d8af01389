import BedsideCore
import BedsideFuzzSupport
import BedsideUI

/// The targets over BedsideCore and BedsideUI alone, so their libFuzzer build is quick enough for CI.
let coreTargets: [FuzzTarget] = [
    FuzzTarget("json", summary: "JSONParser; what parses serializes and parses back equal", maximumLength: 8192) { bytes in
        guard let value = try? JSONParser.parse(bytes) else { return }
        let written = value.serialized()
        let reread: JSONValue
        do {
            reread = try JSONParser.parse(written)
        } catch {
            FuzzTarget.require(false, "the writer's output does not parse: \(error): \(String(decoding: written, as: UTF8.self))")
            return
        }
        FuzzTarget.require(reread == value, "parse(serialize(x)) != x for \(String(decoding: written, as: UTF8.self))")
        FuzzTarget.require(reread.serialized() == written, "serializing twice gives different text")
    },
    FuzzTarget("fhirpath", summary: "FHIRPath lexer and parser, then evaluation against a small fixed response", maximumLength: 512) { bytes in
        guard let expression = try? FHIRPathExpression(String(decoding: bytes, as: UTF8.self)) else { return }
        _ = try? expression.evaluate(FHIRPathFixture.context)
        _ = try? expression.evaluateCondition(FHIRPathFixture.context)
    },
    FuzzTarget("questionnaire", summary: "Questionnaire reader, then a fill with no answers (enableWhen, calculations)", maximumLength: 16384) { bytes in
        guard let json = try? JSONParser.parse(bytes), let questionnaire = try? Questionnaire(json: json) else { return }
        for item in questionnaire.allItems { _ = questionnaire.options(for: item) }
        _ = try? QuestionnaireFill(questionnaire, answers: .object(JSONObject()), now: FHIRPathFixture.now).response()
    },
    FuzzTarget("validator", summary: "ResourceValidator on any parsed JSON, as each type the server validates", maximumLength: 16384) { bytes in
        guard let json = try? JSONParser.parse(bytes) else { return }
        let validator = ResourceValidator(now: FHIRPathFixture.now)
        var types = ["Observation", "QuestionnaireResponse", "Flag", "Task", "Patient"]
        if let own = json["resourceType"]?.stringValue { types.append(own) }
        for type in types { _ = validator.validate(json, as: type) }
    },
    FuzzTarget("http-date", summary: "HTTP Date header (IMF-fixdate) as the sync engine reads it", maximumLength: 64) { bytes in
        guard let date = HTTPDate.parse(String(decoding: bytes, as: UTF8.self)) else { return }
        // The sync engine's arithmetic with the result (SyncTiming.count): a parsed date must not overflow it.
        let midpoint = FHIRPathFixture.now
        _ = date + 500 - midpoint
    },
    FuzzTarget("retry-after", summary: "Retry-After header, then the back-off that honours it", maximumLength: 64) { bytes in
        let seconds = RetryAfter.seconds(String(decoding: bytes, as: UTF8.self))
        for failures in [1, 5, 40] {
            let delay = RetryPolicy.standard.delay(afterFailures: failures, retryAfterSeconds: seconds, randomUnit: 0.5)
            FuzzTarget.require(delay >= RetryPolicy.standard.floorMilliseconds, "a negative or tiny delay: \(delay)")
        }
    },
    FuzzTarget("theme", summary: "TOML theme reader (TOMLKit, strict keys, colours)", maximumLength: 8192) { bytes in
        guard let theme = try? ThemeParser.parse(String(decoding: bytes, as: UTF8.self)) else { return }
        for role in StyleRole.allCases {
            let style = theme.style(role)
            _ = style.foreground.contrast(with: style.background)
        }
    },
]

/// A small QuestionnaireResponse and its Questionnaire, as a form's expressions see them.
enum FHIRPathFixture {
    static let now: Int64 = 1_795_000_000_000

    static let questionnaire: JSONValue = [
        "resourceType": "Questionnaire", "id": "q", "status": "active",
        "item": [
            ["linkId": "mood", "type": "choice", "answerOption": [
                ["valueCoding": ["system": "http://loinc.org", "code": "LA6568-5", "display": "Not at all",
                    "extension": [["url": "http://hl7.org/fhir/StructureDefinition/ordinalValue", "valueDecimal": 0]]]],
                ["valueCoding": ["system": "http://loinc.org", "code": "LA6569-3", "display": "Several days",
                    "extension": [["url": "http://hl7.org/fhir/StructureDefinition/ordinalValue", "valueDecimal": 1]]]],
            ]],
            ["linkId": "weight", "type": "quantity"],
            ["linkId": "when", "type": "dateTime"],
        ],
    ]

    static let response: JSONValue = [
        "resourceType": "QuestionnaireResponse", "id": "r", "status": "in-progress", "authored": "2026-11-18T10:00:00+01:00",
        "subject": ["reference": "Patient/p1"],
        "item": [
            ["linkId": "mood", "answer": [["valueCoding": ["system": "http://loinc.org", "code": "LA6569-3"]]]],
            ["linkId": "weight", "answer": [["valueQuantity": ["value": 72.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"]]]],
            ["linkId": "when", "answer": [["valueDateTime": "2026-11-17T08:30:00Z"]]],
            ["linkId": "group", "item": [["linkId": "nested", "answer": [["valueString": "a b c"], ["valueInteger": 3], ["valueBoolean": true]]]]],
        ],
    ]

    static let context = FHIRPathContext(
        resource: response, questionnaire: questionnaire, variables: ["score": [.integer(7)]], now: now, utcOffsetSeconds: 3600)
}
