/// Works out calculated items (SDC `calculatedExpression`, with the form's `variable`s) with the
/// FHIRPath engine, over the answers as a QuestionnaireResponse. Scores and formulas (PHQ-9 totals,
/// BMI, risk scores) are filled in here, never typed by the patient.
///
/// Calculations may depend on one another, so the pass repeats until the answers stop changing.
/// Variables on an item are evaluated against the whole response (not the item's own node).
public struct QuestionnaireCalculator: Sendable {
    public let questionnaire: Questionnaire
    public let now: Int64
    public let utcOffsetSeconds: Int

    public init(questionnaire: Questionnaire, now: Int64, utcOffsetSeconds: Int = 0) {
        self.questionnaire = questionnaire
        self.now = now
        self.utcOffsetSeconds = utcOffsetSeconds
    }

    /// Whether the form calculates anything at all.
    public var calculates: Bool { questionnaire.allItems.contains { $0.extensions.calculatedExpression != nil } }

    /// The answers with every calculated item filled in; the problems of expressions that could not run.
    public func apply(_ items: [ResponseItem]) -> (items: [ResponseItem], problems: [String]) {
        guard calculates else { return (items, []) }
        var current = items
        var problems: [String] = []
        for _ in 0..<8 {
            problems = []
            let resource = QuestionnaireResponseWriter(questionnaire: questionnaire).response(current, status: "in-progress")
            var base = FHIRPathContext(resource: resource, questionnaire: questionnaire.source, now: now, utcOffsetSeconds: utcOffsetSeconds)
            base.variables = evaluate(questionnaire.variables, in: base, problems: &problems)
            let next = calculate(current, definitions: questionnaire.items, context: base, problems: &problems)
            if next == current { break }
            current = next
        }
        return (current, problems)
    }

    private func evaluate(_ variables: [ItemExtensions.Variable], in context: FHIRPathContext, problems: inout [String]) -> [String: [FHIRPathValue]] {
        var scope = context
        for variable in variables {
            do {
                scope.variables[variable.name] = try FHIRPathExpression(variable.expression).evaluate(scope)
            } catch {
                problems.append("Variable %\(variable.name): \(error.description)")
                scope.variables[variable.name] = []
            }
        }
        return scope.variables
    }

    private func calculate(_ items: [ResponseItem], definitions: [QuestionnaireItem], context: FHIRPathContext, problems: inout [String])
        -> [ResponseItem]
    {
        Self.withCalculatedSlots(items, definitions: definitions).map { item in
            guard let definition = definitions.first(where: { $0.linkId == item.linkId }) else { return item }
            var scope = context
            if !definition.extensions.variables.isEmpty {
                scope.variables = evaluate(definition.extensions.variables, in: context, problems: &problems)
            }
            scope.questionnaireItem = definition.source
            var result = item
            if let expression = definition.extensions.calculatedExpression {
                do {
                    let values = try FHIRPathExpression(expression).evaluate(scope)
                    let itemType = definition.source["type"]?.stringValue
                    let answers = values.compactMap { value -> AnswerValue? in
                        guard let object = value.answerJSON(itemType: itemType) else { return nil }
                        return AnswerValue(in: .object(object))
                    }
                    let nested = result.answers.first?.items ?? []
                    result.answers = answers.map { ResponseAnswer(value: $0) }
                    if !result.answers.isEmpty { result.answers[0].items = nested }
                } catch {
                    problems.append("Item \(definition.linkId): \(error)")
                }
            }
            result.items = calculate(item.items, definitions: definition.items, context: scope, problems: &problems)
            result.answers = result.answers.map { answer in
                var answer = answer
                answer.items = calculate(answer.items, definitions: definition.items, context: scope, problems: &problems)
                return answer
            }
            return result
        }
    }

    /// Answers kept as they are given hold only what was answered; a calculated item gets its place
    /// (in form order) so it can be worked out. Empty items are never written to a response.
    static func withCalculatedSlots(_ items: [ResponseItem], definitions: [QuestionnaireItem]) -> [ResponseItem] {
        let missing = definitions.filter { definition in
            definition.extensions.calculatedExpression != nil && definition.type != .group && !items.contains { $0.linkId == definition.linkId }
        }
        guard !missing.isEmpty else { return items }
        let order = Dictionary(definitions.enumerated().map { ($1.linkId, $0) }, uniquingKeysWith: { first, _ in first })
        let all = items + missing.map { ResponseItem(linkId: $0.linkId) }
        // A stable sort by form position keeps the repetitions of a group in their order.
        return all.enumerated().sorted { (order[$0.element.linkId] ?? Int.max, $0.offset) < (order[$1.element.linkId] ?? Int.max, $1.offset) }
            .map(\.element)
    }
}
