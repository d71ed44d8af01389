/// Decides which items are enabled, as FHIR R4 `enableWhen` says, and removes the rest.
///
/// A condition's question is looked up from the inside out: first in the same repetition of the
/// enclosing group (so in a repeating group each repetition answers for itself), then further out.
/// Answers of disabled items count as no answer, so the pruning repeats until nothing changes.
public struct EnableWhenEvaluator: Sendable {
    public let questionnaire: Questionnaire

    public init(questionnaire: Questionnaire) {
        self.questionnaire = questionnaire
    }

    /// The answers with every disabled item (and everything under it) taken out.
    public func prune(_ items: [ResponseItem]) -> [ResponseItem] {
        var current = items
        for _ in 0..<32 {
            let next = prune(current, definitions: questionnaire.items, scopes: [current])
            if next == current { return next }
            current = next
        }
        return current
    }

    /// Whether the item `linkId` is enabled in a given scope chain (innermost last).
    public func isEnabled(_ definition: QuestionnaireItem, scopes: [[ResponseItem]]) -> Bool {
        guard !definition.enableWhen.isEmpty else { return true }
        let results = definition.enableWhen.map { evaluate($0, scopes: scopes) }
        return definition.enableWhenAny ? results.contains(true) : results.allSatisfy { $0 }
    }

    /// The linkId of every item that is enabled for these answers (in a repeating group, as its first
    /// repetition has it). Items under a disabled item are disabled too.
    public func enabledLinkIds(_ answers: [ResponseItem]) -> Set<String> {
        let pruned = prune(answers)
        var enabled: Set<String> = []
        func walk(_ definitions: [QuestionnaireItem], scopes: [[ResponseItem]]) {
            for definition in definitions where isEnabled(definition, scopes: scopes) {
                enabled.insert(definition.linkId)
                let own = scopes.last?.first { $0.linkId == definition.linkId }
                let inner = (own?.answers.first?.items ?? []) + (own?.items ?? [])
                walk(definition.items, scopes: scopes + [inner])
            }
        }
        walk(questionnaire.items, scopes: [pruned])
        return enabled
    }

    private func prune(_ items: [ResponseItem], definitions: [QuestionnaireItem], scopes: [[ResponseItem]]) -> [ResponseItem] {
        var result: [ResponseItem] = []
        for item in items {
            guard let definition = definitions.first(where: { $0.linkId == item.linkId }) else { continue }
            guard isEnabled(definition, scopes: scopes) else { continue }
            var kept = item
            let inner = scopes + [item.items]
            kept.items = prune(item.items, definitions: definition.items, scopes: inner)
            kept.answers = item.answers.map { answer in
                var answer = answer
                answer.items = prune(answer.items, definitions: definition.items, scopes: scopes + [answer.items])
                return answer
            }
            result.append(kept)
        }
        return result
    }

    private func answers(to linkId: String, scopes: [[ResponseItem]]) -> [AnswerValue] {
        for scope in scopes.reversed() {
            if let found = scope.find(linkId) { return found.answers.map(\.value) }
        }
        return []
    }

    func evaluate(_ condition: QuestionnaireItem.EnableCondition, scopes: [[ResponseItem]]) -> Bool {
        let given = answers(to: condition.question, scopes: scopes)
        if condition.operator == .exists { return (condition.exists ?? true) == !given.isEmpty }
        // "!=" holds when no answer equals, so also when there is no answer; the others need one.
        if condition.operator == .notEqual, given.isEmpty { return true }
        guard let expected = condition.answer, !given.isEmpty else { return false }
        switch condition.operator {
        case .equal: return given.contains { Self.equal($0, expected) }
        case .notEqual: return !given.contains { Self.equal($0, expected) }
        case .greater: return given.contains { Self.compare($0, expected).map { $0 > 0 } ?? false }
        case .less: return given.contains { Self.compare($0, expected).map { $0 < 0 } ?? false }
        case .greaterOrEqual: return given.contains { Self.compare($0, expected).map { $0 >= 0 } ?? false }
        case .lessOrEqual: return given.contains { Self.compare($0, expected).map { $0 <= 0 } ?? false }
        case .exists: return true
        }
    }

    public static func equal(_ given: AnswerValue, _ expected: AnswerValue) -> Bool {
        switch (given, expected) {
        case (.coding(let a), .coding(let b)): return a.matches(b)
        case (.coding(let a), .string(let b)): return a.code == b
        default:
            if let a = given.number, let b = expected.number { return a == b }
            return given == expected
        }
    }

    /// -1, 0 or 1; nil when the two cannot be ordered.
    public static func compare(_ given: AnswerValue, _ expected: AnswerValue) -> Int? {
        if let a = given.number, let b = expected.number { return a < b ? -1 : (a > b ? 1 : 0) }
        switch (given, expected) {
        case (.date(let a), .date(let b)), (.dateTime(let a), .dateTime(let b)), (.time(let a), .time(let b)), (.string(let a), .string(let b)):
            return a < b ? -1 : (a > b ? 1 : 0)
        case (.dateTime(let a), .date(let b)), (.date(let a), .dateTime(let b)):
            let left = String(a.prefix(10)), right = String(b.prefix(10))
            return left < right ? -1 : (left > right ? 1 : 0)
        default:
            return nil
        }
    }
}
