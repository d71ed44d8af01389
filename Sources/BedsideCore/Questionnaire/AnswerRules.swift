/// The checks a form puts on its answers: required, length, range, decimals and pattern, each with
/// the reason the patient reads: the form's own SDC `validationtext` for a pattern when it has one,
/// else words naming the rule.
public enum AnswerRules {
    /// Why `value` is not acceptable for `item`, or nil.
    public static func problem(with value: AnswerValue, for item: QuestionnaireItem) -> String? {
        let rules = item.extensions
        if let maxLength = item.maxLength, case .string(let text) = value, text.count > maxLength {
            return "At most \(maxLength) characters (this has \(text.count))."
        }
        if let minimum = rules.minValue, let order = EnableWhenEvaluator.compare(value, minimum), order < 0 {
            return "The lowest allowed is \(minimum.text)."
        }
        if let maximum = rules.maxValue, let order = EnableWhenEvaluator.compare(value, maximum), order > 0 {
            return "The highest allowed is \(maximum.text)."
        }
        if let places = rules.maxDecimalPlaces, case .decimal(let text) = value,
            let dot = text.firstIndex(of: "."), text[text.index(after: dot)...].count > places
        {
            return places == 0 ? "Give a whole number." : "At most \(places) decimal place(s)."
        }
        if let pattern = rules.regex, let text = Self.text(of: value) {
            guard let regex = try? Regex(pattern) else { return nil }  // A broken pattern in the form is the form's problem, not the patient's.
            if (try? regex.wholeMatch(in: text)) == nil {
                return rules.validationText ?? rules.entryFormat.map { "Write it like \($0)." } ?? "This does not have the expected form."
            }
        }
        return nil
    }

    static func text(of value: AnswerValue) -> String? {
        switch value {
        case .string(let text), .uri(let text), .date(let text), .dateTime(let text), .time(let text), .decimal(let text): text
        case .integer(let number): String(number)
        default: nil
        }
    }

    /// Every problem in a set of (enabled) answers, and the required questions left unanswered.
    public static func check(_ items: [ResponseItem], definitions: [QuestionnaireItem]) -> [AnswerError] {
        var problems: [AnswerError] = []
        for definition in definitions {
            let present = items.filter { $0.linkId == definition.linkId }
            if definition.required, !definition.readOnly, definition.type.isQuestion, present.allSatisfy({ $0.answers.isEmpty }) {
                problems.append(AnswerError(linkId: definition.linkId, message: "Item \(definition.linkId) needs an answer."))
            }
            if definition.required, definition.type == .group, present.isEmpty {
                problems.append(AnswerError(linkId: definition.linkId, message: "Group \(definition.linkId) needs answers."))
            }
            for item in present {
                for answer in item.answers {
                    if let problem = problem(with: answer.value, for: definition) {
                        problems.append(AnswerError(linkId: definition.linkId, message: "Item \(definition.linkId): \(problem)"))
                    }
                    problems += check(answer.items, definitions: definition.items)
                }
                problems += check(item.items, definitions: definition.items)
            }
        }
        return problems
    }
}
