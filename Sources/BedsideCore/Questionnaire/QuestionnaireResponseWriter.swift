/// Writes a FHIR R4 QuestionnaireResponse from a form and its (enabled) answers: items in the form's
/// order, text copied from the form, unanswered questions and empty groups left out (FHIR wants no
/// empty items), and nothing of disabled items.
public struct QuestionnaireResponseWriter: Sendable {
    public let questionnaire: Questionnaire

    public init(questionnaire: Questionnaire) {
        self.questionnaire = questionnaire
    }

    /// `subject` like `Patient/123`; `authored` an ISO dateTime; `basedOn` the Task it answers.
    public func response(
        _ items: [ResponseItem], status: String, subject: String? = nil, authored: String? = nil, basedOn: String? = nil, id: String? = nil,
        identifier: String? = nil
    ) -> JSONValue {
        var object: JSONObject = ["resourceType": "QuestionnaireResponse"]
        if let id { object["id"] = .string(id) }
        if let identifier { object["identifier"] = ["system": "urn:ietf:rfc:3986", "value": .string(identifier)] }
        if let basedOn { object["basedOn"] = [["reference": .string(basedOn)]] }
        if let canonical = questionnaire.url {
            object["questionnaire"] = .string(canonical + (questionnaire.version.map { "|" + $0 } ?? ""))
        } else if let id = questionnaire.id {
            object["questionnaire"] = .string("Questionnaire/\(id)")
        }
        object["status"] = .string(status)
        if let subject { object["subject"] = ["reference": .string(subject)] }
        if let authored { object["authored"] = .string(authored) }
        let written = write(items, definitions: questionnaire.items)
        if !written.isEmpty { object["item"] = .array(written) }
        return .object(object)
    }

    private func write(_ items: [ResponseItem], definitions: [QuestionnaireItem]) -> [JSONValue] {
        var result: [JSONValue] = []
        for definition in definitions {
            for item in items where item.linkId == definition.linkId {
                var object: JSONObject = ["linkId": .string(item.linkId)]
                if let text = definition.text { object["text"] = .string(text) }
                // FHIR JSON has no empty strings: an empty text (typed, initial or calculated) is no answer.
                let answers: [JSONValue] = item.answers.filter { !$0.value.isEmptyText }.map { answer in
                    let (key, value) = answer.value.member()
                    var written: JSONObject = [key: value]
                    let nested = write(answer.items, definitions: definition.items)
                    if !nested.isEmpty { written["item"] = .array(nested) }
                    return .object(written)
                }
                let children = write(item.items, definitions: definition.items)
                if !answers.isEmpty { object["answer"] = .array(answers) }
                if !children.isEmpty { object["item"] = .array(children) }
                // Display items and unanswered questions carry nothing; groups without answers neither.
                guard !answers.isEmpty || !children.isEmpty else { continue }
                result.append(.object(object))
            }
        }
        return result
    }
}

extension AnswerValue {
    /// A text value with nothing in it, which FHIR JSON cannot carry.
    var isEmptyText: Bool {
        switch self {
        case .string(let text), .uri(let text), .date(let text), .dateTime(let text), .time(let text), .decimal(let text): text.isEmpty
        default: false
        }
    }
}
