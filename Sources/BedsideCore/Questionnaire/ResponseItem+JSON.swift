/// Answers as JSON and back, losslessly: what a draft keeps while the form is being filled in.
///
/// Unlike `QuestionnaireResponseWriter`, which writes only what FHIR wants sent (no empty groups, text
/// copied from the form), this keeps the tree exactly as the patient left it, an empty new repetition
/// of a group included, so a draft reopens where it was.
extension ResponseItem {
    public var json: JSONValue {
        var object: JSONObject = ["linkId": .string(linkId)]
        if !answers.isEmpty {
            object["answer"] = .array(answers.map { answer in
                let (key, value) = answer.value.member()
                var written: JSONObject = [key: value]
                if !answer.items.isEmpty { written["item"] = .array(answer.items.map(\.json)) }
                return .object(written)
            })
        }
        if !items.isEmpty { object["item"] = .array(items.map(\.json)) }
        return .object(object)
    }

    /// Reads `QuestionnaireResponse.item` shaped JSON; nil when it has no linkId. Answers whose value
    /// cannot be read are left out.
    public init?(json: JSONValue) {
        guard let linkId = json["linkId"]?.stringValue else { return nil }
        let answers: [ResponseAnswer] = (json["answer"]?.arrayValue ?? []).compactMap { answer in
            guard let value = AnswerValue(in: answer) else { return nil }
            return ResponseAnswer(value: value, items: [ResponseItem](json: answer["item"]))
        }
        self.init(linkId: linkId, answers: answers, items: [ResponseItem](json: json["item"]))
    }
}

extension [ResponseItem] {
    /// The items of a `QuestionnaireResponse.item` (or `answer.item`) array; empty for anything else.
    public init(json: JSONValue?) {
        self = (json?.arrayValue ?? []).compactMap(ResponseItem.init(json:))
    }

    public var json: JSONValue { .array(map(\.json)) }
}
